// workflows.js — the workflows, Run now, the run history (refreshed while a
// run is running or was just asked for), and one run's figures, rejections,
// error and log lines.
import {get, post} from './api.js';
import {cell, duration, el, message, table, time} from './dom.js';

// "S: 12 merged (10 inserted, 2 updated, 0 deleted, 1 rejected)" per schema that had rows.
export function figures(run) {
  if (!run.schemas || run.schemas.length === 0) return '—';
  const touched = run.schemas.filter((s) => s.staged || s.rejected);
  if (touched.length === 0) return 'nothing to merge';
  return touched.map((s) => `${s.schema}: ${s.staged} merged (${s.inserted} inserted, ${s.updated} updated, ` +
    `${s.deleted} deleted, ${s.rejected} rejected)`).join('; ');
}

export function statusCell(run) {
  return el('td', {class: 'status ' + run.status, dataset: {field: 'status', run: String(run.id)}},
    el('a', {href: '#/run/' + run.id}, `#${run.id} ${run.status}`));
}

// Asks for a run now; the pages then see it appear in the history.
export function runNowButton(workflow, ctx, onQueued) {
  const button = el('button', {type: 'button', class: 'run-now', dataset: {workflow}}, 'Run now');
  const note = el('span', {class: 'note', role: 'status'});
  button.addEventListener('click', async () => {
    button.disabled = true;
    note.textContent = '';
    try {
      await post('run-now', {workflow});
      note.textContent = 'queued';
      if (onQueued) onQueued();
    } catch (error) {
      note.textContent = error.message;
      note.classList.add('error');
    } finally {
      button.disabled = false;
    }
  });
  return el('span', {class: 'run-now-box'}, button, ' ', note);
}

function runRows(runs) {
  return runs.map((r) => [
    statusCell(r),
    r.workflow,
    r.trigger,
    time(r.started),
    r.ended ? duration(r.ended - r.started) : 'running',
    cell(figures(r), {dataset: {field: 'figures', run: String(r.id)}}),
    r.error ? cell(r.error, {class: 'error-text'}) : '',
  ]);
}

export async function render(main, ctx) {
  let timer = null;
  let watching = 0;  // refreshes left after a Run now, however long the run takes to appear
  const runsBox = el('div', {id: 'runs'});
  const draw = async () => {
    const data = await get('runs', {limit: 30});
    if (!ctx.current()) return;
    runsBox.replaceChildren(data.runs.length
      ? table(['run', 'workflow', 'trigger', 'started', 'duration', 'figures', 'error'], runRows(data.runs),
        {id: 'run-table'})
      : message('No run yet.'));
    return data.runs.some((r) => r.status === 'running');
  };
  const poll = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      try {
        const running = await draw();
        if (running || --watching > 0) poll();
      } catch (error) {
        ctx.failed(error);
      }
    }, 1000);
  };
  const overview = await get('overview');
  if (!ctx.current()) return null;
  const list = overview.workflows.map((w) => [
    w.name,
    w.schedule || '—',
    w.next ? time(w.next) : '—',
    el('td', {}, w.schedule || ctx.session.admin ? runNowButton(w.name, ctx, () => {
      watching = 30;
      poll();
    }) : ''),
  ]);
  main.replaceChildren(
    el('h1', {}, 'Workflows'),
    el('section', {class: 'card'}, table(['workflow', 'schedule', 'next run', ''], list, {id: 'workflow-list'})),
    el('section', {class: 'card'}, el('h2', {}, 'Runs'), runsBox));
  if (await draw()) poll();
  return () => window.clearTimeout(timer);
}

export async function renderRun(main, ctx, id) {
  let timer = null;
  const draw = async () => {
    const data = await get('run', {id});
    if (!ctx.current()) return false;
    const r = data.run;
    const parts = [
      el('h1', {}, `Run #${r.id} of ${r.workflow}`),
      el('section', {class: 'card'},
        el('dl', {class: 'facts'},
          el('dt', {}, 'status'), el('dd', {class: 'status ' + r.status, id: 'run-status'}, r.status),
          el('dt', {}, 'trigger'), el('dd', {}, r.trigger),
          el('dt', {}, 'started'), el('dd', {}, time(r.started)),
          el('dt', {}, 'ended'), el('dd', {}, r.ended ? time(r.ended) : '—'),
          el('dt', {}, 'duration'), el('dd', {}, r.ended ? duration(r.ended - r.started) : 'running')),
        r.error ? el('pre', {class: 'error-text', id: 'run-error'}, r.error) : ''),
      el('section', {class: 'card'}, el('h2', {}, 'Per schema'),
        r.schemas.length ? table(['schema', 'merged', 'inserted', 'updated', 'deleted', 'rejected'],
          r.schemas.map((s) => [s.schema, s.staged, s.inserted, s.updated, s.deleted, s.rejected]), {id: 'run-schemas'})
          : message('No schema figures (none merged, or none you may read).')),
    ];
    const rejections = r.schemas.flatMap((s) => s.rejections.map((why) => [s.schema, why]));
    if (rejections.length) {
      parts.push(el('section', {class: 'card'}, el('h2', {}, 'Rejected keys'),
        table(['schema', 'key and reason'], rejections, {id: 'run-rejections'})));
    }
    if (data.log.length) {
      parts.push(el('section', {class: 'card'}, el('h2', {}, 'Log'),
        table(['time', 'activity', 'level', 'text'],
          data.log.map((l) => [time(l.time), l.activity, cell(l.level, {class: 'level ' + l.level}), l.text]),
          {id: 'run-log'})));
    } else if (!data.log_visible) {
      parts.push(message('Log lines are shown to admins.'));
    }
    parts.push(el('p', {}, el('a', {href: '#/workflows'}, '← all runs')));
    main.replaceChildren(...parts);
    return r.status === 'running';
  };
  const poll = () => {
    timer = window.setTimeout(async () => {
      try {
        if (await draw()) poll();
      } catch (error) {
        ctx.failed(error);
      }
    }, 1000);
  };
  if (await draw()) poll();
  return () => window.clearTimeout(timer);
}
