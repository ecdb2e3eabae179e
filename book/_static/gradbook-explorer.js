/* Static rendering of gradbook's interactive figures.
 *
 * Each <figure class="gradbook-explorer"> holds one range input per slider and
 * a JSON list of base64 PNG frames, one per point of the slider grid, in
 * row-major order (the last slider varies fastest). Moving a slider shows the
 * frame of the new grid point. No kernel, no network, no other script.
 */
(function () {
  "use strict";

  function setup(figure) {
    if (figure.dataset.gbxReady === "1") return;
    var data = figure.querySelector("script.gbx-frames");
    var img = figure.querySelector("img.gbx-frame");
    if (!data || !img) return;
    var frames = JSON.parse(data.textContent);
    var sizes = JSON.parse(figure.dataset.sizes);
    var inputs = Array.prototype.slice.call(figure.querySelectorAll("input[type=range]"));

    function update() {
      var index = 0;
      inputs.forEach(function (input, k) {
        var i = Number(input.value);
        index = index * sizes[k] + i;
        var labels = JSON.parse(input.dataset.labels);
        var out = input.parentNode.querySelector("output");
        if (out) out.textContent = labels[i];
      });
      if (String(index) !== img.dataset.frame) {
        img.src = "data:image/png;base64," + frames[index];
        img.dataset.frame = String(index);
      }
    }

    inputs.forEach(function (input) {
      input.addEventListener("input", update);
    });
    figure.dataset.gbxReady = "1";
    update();
  }

  function init() {
    document.querySelectorAll("figure.gradbook-explorer").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
