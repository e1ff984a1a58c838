// Satchel's only script of its own: live updates and small comforts. Loaded from
// 127.0.0.1 (the CSP allows no inline script and no other origin).
(function () {
  "use strict";
  function scrollMessages() {
    var list = document.getElementById("messages");
    if (list) { list.scrollTop = list.scrollHeight; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    scrollMessages();
    if (!window.EventSource) { return; }
    var events = new EventSource("/events");
    events.addEventListener("changed", function () {
      if (window.htmx) { window.htmx.trigger(document.body, "satchel-changed"); }
    });
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "messages") { scrollMessages(); }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.matches && form.matches("form.compose") && e.detail.successful) {
      form.reset();
      var box = form.querySelector(".compose-error");
      if (box) { box.hidden = true; }
      var text = form.querySelector("textarea");
      if (text) { text.focus(); }
    }
  });
  // A refused send (e.g. to someone the school no longer vouches for): show the
  // server's explanation under the form, as text.
  document.addEventListener("htmx:responseError", function (e) {
    var form = e.detail.elt;
    var box = form && form.querySelector ? form.querySelector(".compose-error") : null;
    if (!box) { return; }
    var page = new DOMParser().parseFromString(e.detail.xhr.responseText, "text/html");
    var reason = page.querySelector(".error");
    box.textContent = reason ? reason.textContent : String(e.detail.xhr.status);
    box.hidden = false;
  });
  // Enter sends, Shift+Enter makes a new line (in the compose box only).
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key === "Enter" && !e.shiftKey && t && t.id === "text" && t.form) {
      e.preventDefault();
      t.form.requestSubmit();
    }
  });
})();
