// Site-wide behaviour that HTMX does not cover. Kept tiny: pages work without it.
document.addEventListener("htmx:responseError", function (event) {
  var status = event.detail.xhr.status;
  if (status >= 500) {
    window.alert("Something went wrong on our side. Please try again in a moment.");
  }
});
