// maestro's page: follow the state file as runs move, without reloading the page.
// The server sends `change` events (server-sent events); each redraws the parts marked
// data-live from a fresh copy of this page. The decision form is left alone while a person
// may be typing in it, unless the approval it decides has been decided elsewhere.
(function () {
  "use strict";
  function times(root) {
    root.querySelectorAll("time[data-ms]").forEach(function (t) {
      var d = new Date(Number(t.getAttribute("data-ms")));
      t.textContent = d.toLocaleString();
      t.setAttribute("datetime", d.toISOString());
    });
  }
  times(document);
  // After a refused decision the address is the form's (/approvals/ID): show, and follow,
  // the run's own page instead, so a reload never posts the form again.
  var path = document.body.getAttribute("data-path") || location.pathname;
  if (path !== location.pathname && window.history && history.replaceState) {
    history.replaceState(null, "", path + location.hash);
  }
  var live = document.getElementById("live");
  var busy = false;
  function refresh() {
    if (busy) { return; }
    busy = true;
    fetch(path, { credentials: "same-origin", headers: { "X-Maestro-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("[data-live]").forEach(function (fresh) {
          var old = document.getElementById(fresh.id);
          if (old) { old.replaceWith(fresh); times(fresh); }
        });
        // The form: replace it only when the approval it decides is gone or another one waits.
        var oldForm = document.getElementById("decide-section");
        var newForm = doc.getElementById("decide-section");
        var oldId = oldForm && oldForm.getAttribute("data-approval");
        var newId = newForm && newForm.getAttribute("data-approval");
        if (oldId !== newId) {
          if (oldForm && newForm) { oldForm.replaceWith(newForm); }
          else if (oldForm) { oldForm.remove(); }
          else if (newForm) {
            var summary = document.getElementById("summary");
            if (summary) { summary.after(newForm); }
          }
        }
        document.body.setAttribute("data-seq", doc.body.getAttribute("data-seq"));
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  if (window.EventSource) {
    var es = new EventSource("/events?since=" + document.body.getAttribute("data-seq"));
    es.addEventListener("change", function () { refresh(); });
    es.onopen = function () { live.classList.add("on"); };
    es.onerror = function () { live.classList.remove("on"); };
  }
})();
