// The dashboard's live updates: the console relays the referrals service's "timeline changed"
// stream; on each change the panel is read again (server-rendered, the same HTML as the page).
(function () {
  "use strict";
  var panel = document.getElementById("panel");
  var status = document.getElementById("status");
  if (!panel || !window.EventSource) { return; }
  var reading = false, again = false;
  function reread() {
    if (reading) { again = true; return; }
    reading = true;
    fetch("/dasbor/panel", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        panel.innerHTML = html;
        panel.dataset.updatedAt = String(Date.now());
        status.textContent = "Langsung: tersambung, diperbarui " + new Date().toLocaleTimeString("id-ID");
      })
      .catch(function () { status.textContent = "Langsung: gagal memperbarui, mencoba lagi"; })
      .then(function () { reading = false; if (again) { again = false; reread(); } });
  }
  var source = new EventSource("/dasbor/langsung");
  // The first event comes on connecting: read once then too, in case something changed
  // between the page and the stream.
  source.addEventListener("berubah", reread);
  source.onopen = function () { status.textContent = "Langsung: tersambung"; };
  source.onerror = function () { status.textContent = "Langsung: menyambung ulang…"; };
}());
