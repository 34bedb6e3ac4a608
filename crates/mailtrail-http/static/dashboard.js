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
// its upload progress, then offered for download as .eml; once any is
// converted, all of them can be downloaded as one .zip.
(function () {
  "use strict";
  var form = document.getElementById("convert-form");
  if (!form || !window.XMLHttpRequest || !window.Blob) { return; }
  var input = document.getElementById("convert-files");
  var tnef = document.getElementById("convert-tnef");
  var list = document.getElementById("convert-list");
  var zipButton = document.getElementById("convert-zip");
  // Converted files in the order they finished: { name, blob }.
  var done = [];
  // A name not yet used in the zip: "a.eml", then "a (2).eml", ...
  function unique(name) {
    var taken = {};
    for (var i = 0; i < done.length; i++) { taken[done[i].name.toLowerCase()] = true; }
    if (!taken[name.toLowerCase()]) { return name; }
    var stem = name.replace(/\.eml$/i, "");
    for (var n = 2; ; n++) {
      var candidate = stem + " (" + n + ").eml";
      if (!taken[candidate.toLowerCase()]) { return candidate; }
    }
  }
  function showZip() {
    if (!zipButton || done.length === 0) { return; }
    zipButton.hidden = false;
    zipButton.textContent = "Download all as .zip (" + done.length + (done.length === 1 ? " file)" : " files)");
  }
  if (zipButton) {
    zipButton.addEventListener("click", function () {
      Promise.all(done.map(function (f) { return f.blob.arrayBuffer(); })).then(function (buffers) {
        var files = done.map(function (f, i) { return { name: f.name, data: new Uint8Array(buffers[i]) }; });
        var a = document.createElement("a");
        a.href = URL.createObjectURL(zip(files, new Date()));
        a.download = "converted.zip";
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
    });
  }
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
        a.download = unique(file.name.replace(/\.(msg|tnef|dat)$/i, "") + ".eml");
        done.push({ name: a.download, blob: xhr.response });
        showZip();
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

// A .zip (PKWARE APPNOTE 6.3.x) of files stored without compression: .eml
// files are mostly text already encoded for mail, and storing keeps this
// small. Names are UTF-8 (general purpose flag bit 11); each entry has a
// CRC-32, a local header, and a central directory entry.
var zip = (function () {
  "use strict";
  var table = new Uint32Array(256);
  for (var n = 0; n < 256; n++) {
    var c = n;
    for (var k = 0; k < 8; k++) { c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1; }
    table[n] = c >>> 0;
  }
  function crc32(bytes) {
    var crc = 0xFFFFFFFF;
    for (var i = 0; i < bytes.length; i++) { crc = table[(crc ^ bytes[i]) & 0xFF] ^ (crc >>> 8); }
    return (crc ^ 0xFFFFFFFF) >>> 0;
  }
  return function (files, date) {
    // MS-DOS date and time, local time, two-second resolution.
    var time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
    var day = ((date.getFullYear() - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
    var parts = [];
    var central = [];
    var offset = 0;
    var encoder = new TextEncoder();
    files.forEach(function (f) {
      var name = encoder.encode(f.name);
      var crc = crc32(f.data);
      var local = new DataView(new ArrayBuffer(30));
      local.setUint32(0, 0x04034B50, true);
      local.setUint16(4, 20, true);
      local.setUint16(6, 0x0800, true);
      local.setUint16(8, 0, true);
      local.setUint16(10, time, true);
      local.setUint16(12, day, true);
      local.setUint32(14, crc, true);
      local.setUint32(18, f.data.length, true);
      local.setUint32(22, f.data.length, true);
      local.setUint16(26, name.length, true);
      local.setUint16(28, 0, true);
      var entry = new DataView(new ArrayBuffer(46));
      entry.setUint32(0, 0x02014B50, true);
      entry.setUint16(4, 20, true);
      entry.setUint16(6, 20, true);
      entry.setUint16(8, 0x0800, true);
      entry.setUint16(10, 0, true);
      entry.setUint16(12, time, true);
      entry.setUint16(14, day, true);
      entry.setUint32(16, crc, true);
      entry.setUint32(20, f.data.length, true);
      entry.setUint32(24, f.data.length, true);
      entry.setUint16(28, name.length, true);
      entry.setUint32(42, offset, true);
      parts.push(local, name, f.data);
      central.push(entry, name);
      offset += 30 + name.length + f.data.length;
    });
    var size = central.reduce(function (n, p) { return n + p.byteLength; }, 0);
    var end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054B50, true);
    end.setUint16(8, files.length, true);
    end.setUint16(10, files.length, true);
    end.setUint32(12, size, true);
    end.setUint32(16, offset, true);
    return new Blob(parts.concat(central, [end]), { type: "application/zip" });
  };
})();
