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
document.addEventListener("change", function (event) {
  var control = event.target;
  if (control.matches("[data-submit-on-change]") && control.form) control.form.submit();
});
