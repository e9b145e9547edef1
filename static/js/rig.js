// Part-name suggestions for inputs marked data-part-suggest, such as "Must include"
// ("RTX 3090:2, EPYC 9124"): the input's datalist offers completions of the last
// comma-separated item from /api/parts, keeping what comes before it.
(function () {
  "use strict";

  function setup(input) {
    if (input.dataset.suggestBound) return;
    input.dataset.suggestBound = "1";
    var list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var value = input.value;
        var cut = value.lastIndexOf(",");
        var head = cut >= 0 ? value.slice(0, cut + 1) + " " : "";
        var last = value.slice(cut + 1).replace(/:\d*$/, "").trim();
        if (last.length < 2) return;
        var url = "/api/parts?q=" + encodeURIComponent(last);
        if (input.dataset.partKind) url += "&kind=" + encodeURIComponent(input.dataset.partKind);
        fetch(url, { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { parts: [] }; })
          .then(function (data) {
            var options = data.parts.map(function (part) {
              var option = document.createElement("option");
              option.value = head + part.name;
              option.label = part.slug;
              return option;
            });
            list.replaceChildren.apply(list, options);
          })
          .catch(function () { /* suggestions are optional */ });
      }, 200);
    });
  }

  function scan(root) {
    if (root && root.querySelectorAll) {
      root.querySelectorAll("input[data-part-suggest]").forEach(setup);
    }
  }

  if (window.htmx) {
    window.htmx.onLoad(scan);
  } else {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  }
})();
