// Charts of a function's invocations, errors, throttles and cold starts with uPlot (served from node_modules).
const SERIES = [
  ['invocations', 'Invocations', '#2160c4'],
  ['errors', 'Errors', '#b00020'],
  ['throttles', 'Throttles', '#b35c00'],
  ['coldStarts', 'Cold starts', '#7a4fb5'],
];

/** One small chart per measure; `update(points)` redraws them. */
export function functionCharts(container) {
  const plots = new Map();
  // The last 15 minutes up to now (a single point would otherwise stretch the axis over years).
  let end = Date.now() / 1000;
  for (const [field, label, stroke] of SERIES) {
    const box = document.createElement('div');
    box.className = 'chart';
    box.dataset.series = field;
    container.append(box);
    const plot = new window.uPlot({
      title: label, width: 420, height: 180,
      scales: { x: { time: true, range: () => [end - 900, end] }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      series: [{}, { label, stroke, fill: `${stroke}22`, width: 2, paths: window.uPlot.paths.stepped({ align: -1 }) }],
      axes: [{}, { size: 40 }],
    }, [[], []], box);
    plots.set(field, { plot, box });
  }
  return {
    update(points) {
      end = Math.max(Date.now() / 1000, ...points.map((p) => p.t / 1000));
      const xs = points.map((p) => p.t / 1000);
      for (const [field, { plot, box }] of plots) {
        const ys = points.map((p) => p[field]);
        plot.setData([xs, ys]);
        // What tests and screen readers read: the total over the charted window.
        box.dataset.total = String(ys.reduce((a, b) => a + b, 0));
      }
    },
  };
}
