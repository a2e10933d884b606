// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", function () {
  // Move focus to the error summary so screen-reader and keyboard users hear the problem first.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }

  // A long select (hundreds of schools) gets a box above it that narrows the list as you type.
  document.querySelectorAll("select[data-filterable]").forEach(function (select) {
    var options = Array.prototype.slice.call(select.options);
    var filter = document.createElement("input");
    filter.type = "search";
    filter.className = "form-control mb-2";
    filter.id = select.id + "_filter";
    filter.setAttribute("aria-label", "Type to narrow the list");
    filter.setAttribute("placeholder", "Type part of the name");
    filter.setAttribute("aria-controls", select.id);
    select.parentNode.insertBefore(filter, select);
    filter.addEventListener("input", function () {
      var words = filter.value.trim().toLowerCase();
      var chosen = select.value;
      select.innerHTML = "";
      options.forEach(function (option) {
        var keep = option.value === "" || option.text.toLowerCase().indexOf(words) !== -1;
        if (keep) {
          select.appendChild(option);
        }
      });
      select.value = chosen;
      var matches = select.options.length - (select.options[0] && select.options[0].value === "" ? 1 : 0);
      if (words && matches === 1) {
        select.selectedIndex = select.options.length - 1;
      }
    });
  });
});
