// plot.js — the overview's plot (SVG): staging backlog (rows pending, all
// schemas shown, a line) and ingest rate (rows staged per sample, bars) over
// the samples the server keeps.
import {el, svg} from './dom.js';

const W = 1000;
const H = 220;
const PAD = {left: 48, right: 48, top: 12, bottom: 28};

function label(t) {
  return new Date(t * 1000).toISOString().slice(11, 16);
}

export function plot(series) {
  const samples = series.samples || [];
  const points = samples.map((s) => ({
    t: s.t,
    ingested: s.ingested,
    pending: Object.values(s.pending || {}).reduce((a, b) => a + b, 0),
  }));
  const figure = el('figure', {class: 'plot'});
  const maxPending = Math.max(1, ...points.map((p) => p.pending));
  const maxIngested = Math.max(1, ...points.map((p) => p.ingested));
  // The time axis ends now and spans what is kept, at least half an hour, so
  // the first samples of a young server sit on the right and grow leftwards.
  const t1 = points.length ? points[points.length - 1].t : 1;
  const t0 = Math.min(points.length ? points[0].t : t1, t1 - 1800);
  const span = Math.max(1, t1 - t0);
  const x = (t) => PAD.left + ((t - t0) / span) * (W - PAD.left - PAD.right);
  const yPending = (v) => H - PAD.bottom - (v / maxPending) * (H - PAD.top - PAD.bottom);
  const yIngested = (v) => H - PAD.bottom - (v / maxIngested) * (H - PAD.top - PAD.bottom);
  const chart = svg('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Backlog and ingest rate'});
  chart.append(svg('line', {x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis'}));
  const slots = Math.max(30, span / Math.max(1, series.interval));
  const barWidth = Math.max(2, Math.min(14, (W - PAD.left - PAD.right) / slots - 2));
  for (const p of points) {
    const y = yIngested(p.ingested);
    chart.append(svg('rect', {x: x(p.t) - barWidth / 2, y, width: barWidth, height: H - PAD.bottom - y, class: 'bar'},
      svg('title', {}, `${label(p.t)}: ${p.ingested} rows staged`)));
  }
  if (points.length) {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${yPending(p.pending).toFixed(1)}`).join(' ');
    chart.append(svg('path', {d, class: 'line'}));
    for (const p of points) {
      chart.append(svg('circle', {cx: x(p.t), cy: yPending(p.pending), r: 2.5, class: 'dot'},
        svg('title', {}, `${label(p.t)}: ${p.pending} rows pending`)));
    }
  }
  chart.append(svg('text', {x: 4, y: PAD.top + 10, class: 'tick'}, String(maxPending)));
  chart.append(svg('text', {x: W - PAD.right + 12, y: PAD.top + 10, class: 'tick rate'}, String(maxIngested)));
  chart.append(svg('text', {x: PAD.left, y: H - 8, class: 'tick'}, points.length ? label(t0) : ''));
  chart.append(svg('text', {x: W - PAD.right, y: H - 8, class: 'tick', 'text-anchor': 'end'},
    points.length ? label(t1) : ''));
  const minutes = Math.max(1, Math.round(series.interval / 60));
  figure.append(chart, el('figcaption', {},
    el('span', {class: 'key line'}, 'rows pending in staging'), ' ',
    el('span', {class: 'key bar'}, `rows staged per ${minutes} min`), ' — ',
    `the last ${Math.round((series.capacity * series.interval) / 3600)} h at most, one sample every ${series.interval} s`));
  return figure;
}
