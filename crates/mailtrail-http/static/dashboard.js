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
// The Convert page: each chosen or dropped file is posted on its own, with
// its upload progress, then offered for download as .eml.
(function () {
  "use strict";
  var form = document.getElementById("convert-form");
  if (!form || !window.XMLHttpRequest || !window.Blob) { return; }
  var input = document.getElementById("convert-files");
  var tnef = document.getElementById("convert-tnef");
  var list = document.getElementById("convert-list");
  function convert(file) {
    var li = document.createElement("li");
    var label = document.createElement("span");
    label.textContent = file.name + ": ";
    var progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    var status = document.createElement("span");
    li.appendChild(label);
    li.appendChild(progress);
    li.appendChild(status);
    list.appendChild(li);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/convert/file" + (tnef.checked ? "?tnef=true" : ""));
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.responseType = "blob";
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { progress.value = Math.round(e.loaded * 100 / e.total); }
    };
    xhr.onload = function () {
      progress.value = 100;
      if (xhr.status === 200) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(xhr.response);
        a.download = file.name.replace(/\.(msg|tnef|dat)$/i, "") + ".eml";
        a.textContent = " Download " + a.download;
        status.appendChild(a);
      } else {
        xhr.response.text().then(function (t) {
          try { t = JSON.parse(t).error.message; } catch (_) { /* plain text */ }
          status.textContent = " " + t;
        });
      }
    };
    xhr.onerror = function () { status.textContent = " Upload failed."; };
    xhr.send(file);
  }
  function all(files) { for (var i = 0; i < files.length; i++) { convert(files[i]); } }
  input.addEventListener("change", function () { all(input.files); input.value = ""; });
  form.addEventListener("dragover", function (e) { e.preventDefault(); });
  form.addEventListener("drop", function (e) { e.preventDefault(); all(e.dataTransfer.files); });
})();
