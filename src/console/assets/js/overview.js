// overview.js — each staged schema's backlog and last merge, each workflow's
// last and next run (with Run now), and the backlog / ingest plot. Refreshed
// every 5 s.
import {get} from './api.js';
import {ageOf, cell, duration, el, message, table, time} from './dom.js';
import {plot} from './plot.js';
import {runNowButton, statusCell, figures} from './workflows.js';

export async function render(main, ctx) {
  let timer = null;
  const draw = async () => {
    const data = await get('overview');
    if (!ctx.current()) return;
    const schemaRows = data.schemas.map((s) => [
      el('td', {}, el('a', {href: '#/schema/' + encodeURIComponent(s.schema)}, s.schema)),
      cell(s.pending, {class: 'num', dataset: {field: 'pending', schema: s.schema}}),
      cell(s.oldest ? duration(ageOf(s.oldest, data.now)) : '—', {dataset: {field: 'oldest', schema: s.schema}}),
      cell(s.last_run ? s.last_run.merged : '—', {class: 'num', dataset: {field: 'merged', schema: s.schema}}),
      cell(s.last_run ? s.last_run.rejected : '—', {class: 'num', dataset: {field: 'rejected', schema: s.schema}}),
    ]);
    const workflowRows = data.workflows.map((w) => [
      w.name,
      w.schedule || '—',
      w.last ? statusCell(w.last) : cell('never run'),
      w.last && w.last.ended ? duration(w.last.ended - w.last.started) : '—',
      w.last ? figures(w.last) : '—',
      w.next ? time(w.next) : '—',
      el('td', {}, w.schedule || ctx.session.admin ? runNowButton(w.name, ctx) : ''),
    ]);
    main.replaceChildren(
      el('h1', {}, 'Overview'),
      el('section', {class: 'card'},
        el('h2', {}, 'Staging backlog'),
        data.schemas.length ? table(['schema', 'pending rows', 'oldest pending', 'merged by last run', 'rejected'],
          schemaRows, {id: 'backlog'}) : message('No staged schema you may read.')),
      el('section', {class: 'card'}, el('h2', {}, 'Ingest rate and backlog'), plot(data.series)),
      el('section', {class: 'card'},
        el('h2', {}, 'Workflows'),
        table(['workflow', 'schedule', 'last run', 'duration', 'figures', 'next run', ''], workflowRows,
          {id: 'workflows'})));
  };
  await draw();
  const tick = () => {
    timer = window.setTimeout(async () => {
      try {
        await draw();
        tick();
      } catch (error) {
        ctx.failed(error);
      }
    }, 5000);
  };
  tick();
  return () => window.clearTimeout(timer);
}
