//! Conformance cases of [`SequenceStore`]: contacts and sequences.

use std::collections::BTreeMap;

use super::*;
use mailtrail_domain::sequence::{SendWindow, Wait};
use mailtrail_store::sequence::*;

fn contact(org: &Org, address: &str, name: &str, at_ms: i64) -> NewContact {
    let mut fields = BTreeMap::new();
    fields.insert("plan".to_owned(), "Pro".to_owned());
    NewContact {
        id: Uuid::now_v7(),
        org_id: org.id,
        address: address.into(),
        name: name.into(),
        company: "Acme".into(),
        time_zone: Some("Europe/Paris".into()),
        fields,
        at: noisy(at_ms),
    }
}

pub async fn contacts_are_unique_per_organisation_and_upserted(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let b = org(&store, "bravo").await;
    let ann = contact(&a, "ann@example.com", "Ann Lee", 0);
    store.create_contact(&ann).await.unwrap();
    assert!(matches!(
        store
            .create_contact(&contact(&a, "ann@example.com", "Twin", 1))
            .await,
        Err(StoreError::Conflict("contact"))
    ));
    // Another organisation may have the same address.
    store
        .create_contact(&contact(&b, "ann@example.com", "Ann", 1))
        .await
        .unwrap();

    let got = store.contact(a.id, ann.id).await.unwrap().unwrap();
    assert_eq!(got.name, "Ann Lee");
    assert_eq!(got.fields.get("plan").map(String::as_str), Some("Pro"));
    assert_eq!(got.time_zone.as_deref(), Some("Europe/Paris"));
    assert_eq!(got.created_at, t(0));
    assert!(store.contact(b.id, ann.id).await.unwrap().is_none());

    // An import updates by address, keeping the id, and adds the rest.
    let mut again = contact(&a, "ann@example.com", "Ann Marie Lee", 10);
    again.time_zone = None;
    let bob = contact(&a, "bob@example.com", "Bob", 10);
    assert_eq!(
        store.upsert_contacts(&[again, bob.clone()]).await.unwrap(),
        2
    );
    let got = store
        .contact_by_address(a.id, "ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.id, ann.id);
    assert_eq!(got.name, "Ann Marie Lee");
    assert_eq!(got.time_zone, None);
    assert_eq!(got.created_at, t(0));
    assert_eq!(got.updated_at, t(10));

    let page = store.contacts(a.id, None, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, bob.id);
    let rest = store.contacts(a.id, Some(page[0].id), 10).await.unwrap();
    assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ann.id]);
}

pub async fn sequences_keep_their_steps_in_order(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let b = org(&store, "bravo").await;
    let step = |position: u32, wait: Wait, new_thread: bool| Step {
        id: Uuid::now_v7(),
        position,
        subject: format!("Step {position} for {{{{first_name | you}}}}"),
        html: Some("<p>Hi</p>".into()),
        text: (position > 1).then(|| "Hi".to_owned()),
        wait,
        new_thread,
    };
    let seq = Sequence {
        id: Uuid::now_v7(),
        org_id: a.id,
        user_id: a.user,
        name: "Proposal".into(),
        from_address: "admin@acme.test".into(),
        from_name: Some("Admin".into()),
        window: Some(
            serde_json::from_str::<SendWindow>(
                r#"{"days": ["mon", "tue"], "from_hour": 9, "to_hour": 17}"#,
            )
            .unwrap(),
        ),
        time_zone: "America/New_York".into(),
        daily_limit: 200,
        paused: false,
        steps: vec![
            step(1, Wait::Minutes(0), false),
            step(2, Wait::BusinessDays(3), false),
            step(3, Wait::Hours(36), true),
        ],
        created_at: t(0),
        updated_at: t(0),
    };
    store.create_sequence(&seq).await.unwrap();
    let got = store.sequence(a.id, seq.id).await.unwrap().unwrap();
    assert_eq!(got, seq);
    assert!(store.sequence(b.id, seq.id).await.unwrap().is_none());
    assert_eq!(store.sequences(a.id).await.unwrap(), vec![seq.clone()]);
    assert!(store.sequences(b.id).await.unwrap().is_empty());

    // Two steps at the same position: nothing of the sequence is stored.
    let mut twin = seq.clone();
    twin.id = Uuid::now_v7();
    twin.steps[1].position = 1;
    for s in &mut twin.steps {
        s.id = Uuid::now_v7();
    }
    assert!(store.create_sequence(&twin).await.is_err());
    assert!(store.sequence(a.id, twin.id).await.unwrap().is_none());
}
