/* Draw the statistics page's charts with the vendored ECharts: the figures and the
   chart list are in the page (json_script), in the API's shape. */
"use strict";
(function () {
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  function at(figures, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, figures) || [];
  }
  function label(row) { return row.label || row.name || row.divisionCode || row.key || row.code; }
  var figures = data("statistics-figures"), charts = data("statistics-charts"),
      texts = data("statistics-texts");
  charts.forEach(function (chart) {
    var rows = at(figures, chart.path);
    var names = rows.map(label);
    var values = rows.map(function (r) { return r[chart.value] == null ? 0 : Number(r[chart.value]); });
    var title = { text: chart.title, left: "center", textStyle: { fontSize: 14 } };
    var option;
    if (!rows.length) {
      option = { title: title, graphic: { type: "text", left: "center", top: "middle",
        style: { text: texts.none, fill: "#999", fontSize: 14 } } };
    } else if (chart.kind === "pie") {
      option = { title: title, tooltip: { trigger: "item" }, legend: { bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], top: 20,
          data: rows.map(function (r, i) { return { name: names[i], value: values[i] }; }),
          label: { formatter: "{b}: {c}" } }] };
    } else if (chart.kind === "target") {
      var targets = rows.map(function (r) { return r.target == null ? null : r.target * 100; });
      option = { title: title, tooltip: { trigger: "axis" },
        legend: { bottom: 0, data: [chart.title, texts.target] },
        xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 4 ? 30 : 0 } },
        yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
        series: [
          { name: chart.title, type: "bar", data: values.map(function (v) { return +(v * 100).toFixed(2); }),
            label: { show: true, position: "top", formatter: "{c}%" } },
          { name: texts.target, type: "line", step: "middle", data: targets, symbol: "none",
            lineStyle: { type: "dashed", color: "#c23531" } }] };
    } else {
      var horizontal = chart.kind === "hbar";
      var line = chart.kind === "line";
      // Months can be many: ECharts spaces their labels itself and a slider zooms in.
      var axisLabel = horizontal ? { width: 150, overflow: "truncate" }
        : line ? {} : { interval: 0, rotate: names.length > 6 ? 30 : 0 };
      var category = { type: "category", data: horizontal ? names.slice().reverse() : names,
        axisLabel: axisLabel };
      var value = { type: "value" };
      option = { title: title, tooltip: { trigger: "axis" },
        grid: { left: horizontal ? 160 : 50, right: 30, top: 40, bottom: line ? 70 : 60 },
        dataZoom: line && rows.length > 24 ? [{ type: "inside" }, { type: "slider", height: 16, bottom: 10 }] : [],
        xAxis: horizontal ? value : category, yAxis: horizontal ? category : value,
        series: [{ type: line ? "line" : "bar", smooth: true,
          data: horizontal ? values.slice().reverse() : values,
          label: { show: rows.length <= 12, position: horizontal ? "right" : "top" } }] };
    }
    window.echarts.init(document.getElementById(chart.id), null, { renderer: "canvas" }).setOption(option);
  });
})();
