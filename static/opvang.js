// The 4xx swap rule lives in the htmx-config meta tag of base.html.
// A request that fails (server down, 5xx) must not fail silently under pressure.
function showRequestError(show) {
  var banner = document.getElementById("request-error");
  if (banner) banner.hidden = !show;
}
document.addEventListener("htmx:responseError", function () { showRequestError(true); });
document.addEventListener("htmx:sendError", function () { showRequestError(true); });
document.addEventListener("htmx:afterRequest", function (event) {
  if (event.detail.successful) showRequestError(false);
});

// No inline handlers (the Content-Security-Policy forbids them): a control
// marked data-submit-on-change sends its form as soon as it changes.
// A choice (a chip, a box, a list) also fires "chosen": it is made in one
// gesture, so a form may send at once. A typed field's change fires when the
// operator leaves it, which is when they click something else: a form that
// re-drew on that change would swallow the click (typed fields send on input).
document.addEventListener("change", function (event) {
  var control = event.target;
  if (control.matches("[data-submit-on-change]") && control.form) control.form.submit();
  if (control.matches("input[type=checkbox], input[type=radio], select")) {
    control.dispatchEvent(new Event("chosen", { bubbles: true }));
  }
});
