// kefu — small progressive enhancements on top of htmx. No framework and no inline handlers:
// the Content-Security-Policy allows only scripts served from /static.
(function () {
  "use strict";

  // The CSRF token every page carries for htmx in <body hx-headers='{"X-CSRF-Token": …}'>.
  function csrfToken() {
    try {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      return headers["X-CSRF-Token"] || "";
    } catch (error) {
      return "";
    }
  }

  function mebibytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MiB";
  }

  // Replaces the result area with a message built from text, never from HTML.
  function showProblem(target, message) {
    var box = document.createElement("p");
    box.className = "alert";
    box.setAttribute("role", "alert");
    box.textContent = message;
    target.replaceChildren(box);
  }

  // Knowledge → Import CSV: sends the chosen file as the request body (text/csv) with
  // XMLHttpRequest, whose upload events give a progress bar that fetch cannot.
  function upload(form) {
    var input = form.querySelector("input[type=file]");
    var dryRun = form.querySelector("input[name=dry_run]");
    var button = form.querySelector("button[type=submit]");
    var progress = form.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    var target = document.getElementById(form.getAttribute("data-result"));
    var file = input && input.files && input.files[0];
    if (!target) return;
    if (!file) {
      showProblem(target, "Choose a CSV file first.");
      return;
    }
    var limit = Number(form.getAttribute("data-max-bytes")) || 0;
    if (limit && file.size > limit) {
      showProblem(target, "This file is " + mebibytes(file.size) + "; the limit is " + mebibytes(limit) +
        ". Split it into smaller files and import them one after another.");
      return;
    }

    var url = new URL(form.getAttribute("action"), window.location.href);
    url.searchParams.set("dry_run", dryRun && dryRun.checked ? "1" : "0");
    var request = new XMLHttpRequest();
    request.open("POST", url.toString());
    request.setRequestHeader("Content-Type", "text/csv");
    request.setRequestHeader("X-CSRF-Token", csrfToken());
    request.setRequestHeader("HX-Request", "true");

    button.disabled = true;
    target.setAttribute("aria-busy", "true");
    progress.hidden = false;
    progress.max = file.size || 1;
    progress.value = 0;
    status.textContent = "Uploading " + file.name + "…";

    request.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      progress.max = event.total;
      progress.value = event.loaded;
      status.textContent = "Uploading " + file.name + "… " + Math.round((100 * event.loaded) / event.total) + "%";
    });
    request.upload.addEventListener("load", function () {
      progress.removeAttribute("value"); // indeterminate while the server checks the rows
      status.textContent = "Checking " + file.name + "…";
    });

    function finish() {
      button.disabled = false;
      target.removeAttribute("aria-busy");
      progress.hidden = true;
      status.textContent = "";
    }
    request.addEventListener("load", function () {
      finish();
      var redirect = request.getResponseHeader("HX-Redirect");
      if (redirect) {
        window.location.assign(redirect);
        return;
      }
      // The server's answer is an escaped askama fragment: the summary or the bad lines.
      target.innerHTML = request.responseText;
      if (window.htmx) window.htmx.process(target);
      target.focus();
    });
    request.addEventListener("error", function () {
      finish();
      showProblem(target, "The upload failed. Check the connection and try again; nothing was imported.");
    });
    request.send(file);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-csv-upload")) return;
    event.preventDefault();
    upload(form);
  });

  // After a dry run: "Import these rows" sends the same file again, this time for real.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element && event.target.closest("[data-import-again]");
    if (!button) return;
    var form = document.querySelector("form[data-csv-upload]");
    if (!form) return;
    var dryRun = form.querySelector("input[name=dry_run]");
    if (dryRun) dryRun.checked = false;
    upload(form);
  });
})();
