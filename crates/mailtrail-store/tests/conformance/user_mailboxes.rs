//! Conformance cases of [`UserMailboxStore`].

use super::*;
use mailtrail_store::user_mailbox::*;

/// One mailbox per user, replaced by a new connection; failures keep
/// their first time until a session works; removal; a user that does
/// not exist is refused.
pub async fn user_mailboxes_one_per_user(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let new = |sealed: &[u8], at: i64| NewUserMailbox {
        user_id: a.user,
        org_id: a.id,
        display: "imaps://alice@imap.acme.test:993/INBOX".into(),
        sealed_url: sealed.to_vec(),
        connected_at: noisy(at),
    };
    assert_eq!(store.user_mailbox(a.user).await.unwrap(), None);
    store.put_user_mailbox(&new(&[1, 0, 255], 0)).await.unwrap();
    let m = store.user_mailbox(a.user).await.unwrap().expect("stored");
    assert_eq!(m.sealed_url, [1, 0, 255]);
    assert_eq!((m.connected_at, m.last_ok_at), (t(0), Some(t(0))));
    assert_eq!((m.failing_since, m.last_error), (None, None));

    store
        .record_user_mailbox_session(a.user, noisy(10), Some("LOGIN refused"))
        .await
        .unwrap();
    store
        .record_user_mailbox_session(a.user, noisy(20), Some("timed out"))
        .await
        .unwrap();
    let m = store.user_mailbox(a.user).await.unwrap().unwrap();
    assert_eq!(m.failing_since, Some(t(10)), "the first failure is kept");
    assert_eq!(m.last_error.as_deref(), Some("timed out"));
    assert_eq!(m.last_ok_at, Some(t(0)));
    store
        .record_user_mailbox_session(a.user, noisy(30), None)
        .await
        .unwrap();
    let m = store.user_mailbox(a.user).await.unwrap().unwrap();
    assert_eq!((m.failing_since, m.last_error), (None, None));
    assert_eq!(m.last_ok_at, Some(t(30)));

    // A new connection replaces the old and forgets its failures.
    store
        .record_user_mailbox_session(a.user, noisy(40), Some("x"))
        .await
        .unwrap();
    store.put_user_mailbox(&new(&[2], 50)).await.unwrap();
    let all = store.all_user_mailboxes().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].sealed_url, [2]);
    assert_eq!((all[0].failing_since, all[0].connected_at), (None, t(50)));

    let ghost = NewUserMailbox {
        user_id: Uuid::now_v7(),
        ..new(&[3], 60)
    };
    assert!(matches!(
        store.put_user_mailbox(&ghost).await,
        Err(StoreError::NotFound("user"))
    ));

    assert!(store.delete_user_mailbox(a.user).await.unwrap());
    assert!(!store.delete_user_mailbox(a.user).await.unwrap());
    assert_eq!(store.user_mailbox(a.user).await.unwrap(), None);
}
