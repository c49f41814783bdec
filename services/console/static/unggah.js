// An RT's spreadsheet that never waits on the signal: the chosen file is kept on the phone
// (IndexedDB, each user's own) until the console has taken it, then its row report opens.
// Sent again after a lost answer, the registry adds no row twice (rows already in are counted
// as "sudah ada"). Without this script the form posts as a plain upload.
(function () {
  "use strict";
  var USER = document.body.dataset.pengguna || "";
  var form = document.querySelector("form[data-unggah]");
  var status = document.getElementById("unggah-status");
  if (!form || !window.indexedDB) { return; }

  function store(mode, work) {
    return new Promise(function (resolve, reject) {
      var opening = indexedDB.open("sinergi-unggahan", 1);
      opening.onupgradeneeded = function () {
        opening.result.createObjectStore("berkas", { keyPath: "key" });
      };
      opening.onerror = function () { reject(opening.error); };
      opening.onsuccess = function () {
        var db = opening.result;
        var tx = db.transaction("berkas", mode);
        var found = work(tx.objectStore("berkas"));
        tx.oncomplete = function () { db.close(); resolve(found && found.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      };
    });
  }
  function mine() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (all) {
      return (all || []).filter(function (e) { return e.user === USER; });
    });
  }
  function say(text, ok) {
    status.textContent = text;
    status.className = ok ? "hasil ok" : "hasil error";
  }
  function show(waiting) {
    status.dataset.pending = String(waiting.length);
    if (waiting.length) {
      say(waiting.length + " berkas tersimpan di ponsel, menunggu sinyal: " +
          waiting.map(function (e) { return e.name; }).join(", "), true);
    }
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  var sending = false;
  function sendAll() {
    if (sending) { return; }
    sending = true;
    mine().then(function (waiting) {
      show(waiting);
      if (!waiting.length) { return null; }
      var entry = waiting[0];
      var body = new FormData();
      body.append("file", entry.file, entry.name);
      return fetch("/lapangan/unggah", {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (response.ok) {
            return forget(entry).then(function () { location.assign(answer.laporan); });
          }
          if (response.status >= 400 && response.status < 500 &&
              [401, 408, 409, 429].indexOf(response.status) < 0) {
            return forget(entry).then(function () {  // refused as it is: fix the file
              say("Ditolak: " + (answer.pesan || response.status), false);
              status.dataset.pending = "0";
            });
          }
          return null;  // not now: it stays on the phone
        });
      });
    }).catch(function () { return null; }).then(function () { sending = false; });
  }
  function forget(entry) {
    return store("readwrite", function (s) { s.delete(entry.key); });
  }

  form.addEventListener("submit", function (event) {
    var file = form.elements.file.files[0];
    if (!file) { return; }
    event.preventDefault();
    var entry = { key: newKey(), user: USER, name: file.name, file: file, at: Date.now() };
    store("readwrite", function (s) { s.put(entry); }).then(function () {
      form.reset();
      say("Tersimpan di ponsel, sedang dikirim…", true);
      sendAll();
    }, function () { form.submit(); });  // no room on the phone: a plain upload
  });
  window.addEventListener("online", sendAll);
  setInterval(sendAll, 10000);
  sendAll();
}());
