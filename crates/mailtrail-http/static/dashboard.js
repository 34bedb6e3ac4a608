// mailtrail dashboard: progressive enhancement only; every page works
// without it. The live feed (an EventSource on /live/events) and opt-in
// browser notifications.
(function () {
  "use strict";
  var feed = document.getElementById("feed");
  if (!feed || !window.EventSource) { return; }
  var state = document.getElementById("feed-state");
  var notifyButton = document.getElementById("notify");
  var notify = false;
  if (notifyButton && "Notification" in window) {
    notifyButton.hidden = false;
    notifyButton.addEventListener("click", function () {
      Notification.requestPermission().then(function (p) {
        notify = p === "granted";
        notifyButton.textContent = notify ? "Notifications on" : "Notifications refused by the browser";
      });
    });
  }
  var source = new EventSource("/live/events");
  source.onopen = function () { if (state) { state.textContent = "Connected: new events appear below."; } };
  source.onerror = function () { if (state) { state.textContent = "Reconnecting…"; } };
  source.addEventListener("event", function (msg) {
    var e;
    try { e = JSON.parse(msg.data); } catch (_) { return; }
    var li = document.createElement("li");
    li.className = "live-event";
    var a = document.createElement("a");
    a.href = "/messages/" + e.message_id;
    a.textContent = e.subject || "(no subject)";
    var strong = document.createElement("strong");
    strong.textContent = e.label;
    li.appendChild(strong);
    li.appendChild(document.createTextNode(" · " + e.address + " · "));
    li.appendChild(a);
    li.appendChild(document.createTextNode(" · " + e.at));
    feed.insertBefore(li, feed.firstChild);
    if (notify) { new Notification(e.label + ": " + e.address, { body: e.subject || "" }); }
  });
})();
