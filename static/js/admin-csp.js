// Admin behaviour that third-party apps wrote as inline script, which the
// Content-Security-Policy blocks: bound here instead.
(function () {
  "use strict";

  // django-import-export: "Select all" fields on the export page.
  document.addEventListener("change", function (event) {
    if (event.target.matches("input.select-toggle") && typeof onSelectToggleChange === "function") {
      onSelectToggleChange(event);
    }
  });

  // django-celery-beat: show what a crontab schedule means under its field.
  function crontabHelp() {
    var readable = document.getElementById("readable-crontabs");
    var help = document.getElementById("crontab-help");
    var $ = window.django && window.django.jQuery;
    if (!readable || !help || !$) return;
    var crontabs = JSON.parse(readable.textContent);
    var original = JSON.parse(help.textContent);
    $(".field-crontab_translation").hide();
    $(".field-crontab").change(function () {
      var line = $("<span>").text("Translation: " + (crontabs[$("#id_crontab").val()] || ""));
      $(".field-crontab .help").text(original).append("<br>").append(line);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", crontabHelp);
  } else {
    crontabHelp();
  }
})();
