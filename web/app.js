/*
 * neurond dashboard: plain JavaScript, no framework, no build step. It only calls the JSON
 * API of the daemon that serves it: GET /models, /models/<name>, /jobs; POST /train (the CSV
 * form), /models/<name>/predict, /spam-score; GET /jobs/<id>/events (Server-Sent Events,
 * read with fetch so that the API key can go in a header) for the live loss curve, which is
 * drawn on a <canvas> by drawChart below, and for an auto job's leaderboard, a table filled
 * by its `candidate` events (renderBoard). Predictions and spam scores ask for their
 * explanation ("explain"): a bar chart of the inputs that moved a prediction, the words of a
 * scored message marked by the sign and size of their push; a card shows global importance.
 */
(function () {
  'use strict';

  var $ = function (id) { return document.getElementById(id); };
  var state = { models: [], jobs: [], job: null, history: [], board: [], stream: null, model: null, cards: {} };

  /* ---------------------------------------------------------------- helpers */

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }

  function headers(extra) {
    var h = extra || {};
    var key = $('api-key').value.trim();
    if (key) h.Authorization = 'Bearer ' + key;
    return h;
  }

  /* fetch + JSON; throws Error(message of the API's error body) on a non-2xx reply */
  function api(path, opts) {
    opts = opts || {};
    opts.headers = headers(opts.headers);
    return fetch(path, opts).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var e = new Error(body.error || ('HTTP ' + r.status));
          e.status = r.status;
          e.body = body;
          throw e;
        }
        return body;
      });
    });
  }

  function fmtTime(s) {
    if (!s) return '';
    var d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  }

  function num(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits == null ? 4 : digits) : '–';
  }

  /* the validation metric of a history row or a job's metrics */
  function valMetric(m) {
    if (!m) return '';
    if (typeof m.val_accuracy === 'number') return 'acc ' + num(m.val_accuracy, 3);
    if (typeof m.val_rmse === 'number') return 'rmse ' + num(m.val_rmse, 3);
    return '';
  }

  /* ---------------------------------------------------------------- chart */

  /* Draws train and validation loss per epoch: axes, grid, two lines, the best epoch. */
  function drawChart(canvas, rows, epochs) {
    var ratio = window.devicePixelRatio || 1;
    var cssW = canvas.clientWidth || 560, cssH = Math.round(cssW / 2);
    if (canvas.width !== Math.round(cssW * ratio)) {
      canvas.width = Math.round(cssW * ratio);
      canvas.height = Math.round(cssH * ratio);
    }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    canvas.setAttribute('data-points', String(rows.length));
    var pad = { l: 48, r: 12, t: 12, b: 28 };
    var w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;
    var vals = [];
    rows.forEach(function (r) {
      if (typeof r.train_loss === 'number' && isFinite(r.train_loss)) vals.push(r.train_loss);
      if (typeof r.val_loss === 'number' && isFinite(r.val_loss)) vals.push(r.val_loss);
    });
    var maxX = Math.max(rows.length ? rows[rows.length - 1].epoch : 1, Math.min(epochs || 1, rows.length * 2 + 5), 2);
    var maxY = vals.length ? Math.max.apply(null, vals) * 1.08 : 1;
    var minY = 0;
    var x = function (e) { return pad.l + (e - 1) / (maxX - 1) * w; };
    var y = function (v) { return pad.t + h - (v - minY) / (maxY - minY) * h; };

    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = '#e3e6eb';
    ctx.fillStyle = '#6b7280';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (var i = 0; i <= 4; i++) {
      var v = minY + (maxY - minY) * i / 4;
      ctx.beginPath(); ctx.moveTo(pad.l, y(v)); ctx.lineTo(pad.l + w, y(v)); ctx.stroke();
      ctx.fillText(v.toPrecision(2), pad.l - 6, y(v));
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    var step = Math.max(1, Math.ceil((maxX - 1) / 8));
    for (var e = 1; e <= maxX; e += step) ctx.fillText(String(e), x(e), pad.t + h + 6);
    ctx.fillText('epoch', pad.l + w / 2, pad.t + h + 16);
    if (!rows.length) {
      ctx.fillText('waiting for the first epoch…', pad.l + w / 2, pad.t + h / 2);
      return;
    }
    function line(key, color) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      var started = false;
      rows.forEach(function (r) {
        var v = r[key];
        if (typeof v !== 'number' || !isFinite(v)) return;
        if (!started) { ctx.moveTo(x(r.epoch), y(v)); started = true; } else ctx.lineTo(x(r.epoch), y(v));
      });
      ctx.stroke();
      if (rows.length === 1 && typeof rows[0][key] === 'number') {
        ctx.fillStyle = color;
        ctx.beginPath(); ctx.arc(x(rows[0].epoch), y(rows[0][key]), 3, 0, 7); ctx.fill();
      }
    }
    line('train_loss', '#2563eb');
    line('val_loss', '#ea580c');
    var best = null;
    rows.forEach(function (r) { if (typeof r.val_loss === 'number' && (!best || r.val_loss < best.val_loss)) best = r; });
    if (best) {
      ctx.strokeStyle = '#9ca3af';
      ctx.setLineDash([3, 3]);
      ctx.beginPath(); ctx.moveTo(x(best.epoch), pad.t); ctx.lineTo(x(best.epoch), pad.t + h); ctx.stroke();
      ctx.setLineDash([]);
    }
  }

  function redraw() {
    drawChart($('loss-chart'), state.history, state.job ? state.job.epochs : 0);
    var j = state.job;
    if (!j) return;
    var last = state.history[state.history.length - 1];
    $('chart-info').textContent = 'Job ' + j.id.slice(0, 8) + ' · model ' + j.model + ' · ' + j.status +
      ' · epoch ' + (last ? last.epoch : 0) + ' / ' + j.epochs +
      (last ? ' · train ' + num(last.train_loss) + ' · val ' + num(last.val_loss) + ' ' + valMetric(last) : '');
  }

  /* ---------------------------------------------------------------- auto leaderboard */

  /* metrics where higher is better; the others (log_loss, rmse, mae) rank lowest first */
  var HIGHER_BETTER = { accuracy: true, auc: true };

  /* Adds or replaces a leaderboard row (by candidate number) and keeps the rows ranked as the
     daemon ranks them: by the mean of the metric, ties to the earlier candidate. */
  function boardAdd(row) {
    state.board = state.board.filter(function (r) { return r.candidate !== row.candidate; });
    state.board.push(row);
    var sign = HIGHER_BETTER[row.metric] ? -1 : 1;
    var key = function (r) { return typeof r.mean === 'number' && isFinite(r.mean) ? sign * r.mean : Infinity; };
    state.board.sort(function (a, b) { return key(a) - key(b) || a.candidate - b.candidate; });
  }

  /* a parameter in two significant digits (0.00053, 1.5e-7) */
  function sig(v) {
    return typeof v === 'number' && isFinite(v) ? String(Number(v.toPrecision(2))) : '–';
  }

  function isAuto(job) {
    return !!(job && job.params && (job.params.auto === true || job.params.auto === 'true'));
  }

  /* The followed job's leaderboard: one row per candidate scored so far, best first. */
  function renderBoard() {
    var j = state.job, rows = state.board;
    $('leaderboard-card').hidden = !(rows.length || isAuto(j));
    if ($('leaderboard-card').hidden) return;
    var metric = rows.length ? rows[0].metric : '', second = rows.length && 'rmse' in rows[0] ? 'rmse' : 'accuracy';
    $('leaderboard-metric').textContent = metric ? metric + (HIGHER_BETTER[metric] ? ' ↑' : ' ↓') : 'Metric';
    $('leaderboard-second').textContent = second === 'rmse' ? 'RMSE' : 'Accuracy';
    var tb = $('leaderboard').querySelector('tbody');
    tb.textContent = '';
    rows.forEach(function (r, i) {
      var tr = el('tr', { 'data-candidate': String(r.candidate), class: i === 0 ? 'best' : '' }, [
        el('td', { class: 'n', text: String(i + 1) }), el('td', { class: 'n', text: '#' + r.candidate }),
        el('td', { text: (r.defaults ? 'defaults ' : '') + (r.hidden && r.hidden.length ? r.hidden.join(', ') : 'none') }),
        el('td', { class: 'n', text: r.defaults ? 'chosen' : sig(r.l2) }), el('td', { class: 'n', text: sig(r.learning_rate) }),
        el('td', { class: 'n', text: num(r.mean) }), el('td', { class: 'n', text: num(r.sd) }),
        el('td', { class: 'n', text: num(r[second]) }), el('td', { class: 'n', text: num(r.seconds, 2) })]);
      tb.appendChild(tr);
    });
    var status = j ? j.status : '';
    $('leaderboard-info').textContent = rows.length + ' candidate' + (rows.length === 1 ? '' : 's') +
      (status ? ' · ' + status : '') + (rows.length ? ' · best #' + rows[0].candidate + ' (' + metric + ' ' + num(rows[0].mean) + ')' : ' · waiting for the first candidate…');
  }

  /* ---------------------------------------------------------------- live events */

  /* Follows a job's event stream: each `progress` event adds a point, each `candidate` event
     (auto) a leaderboard row, `done` ends it. */
  function follow(job) {
    if (state.stream) state.stream.abort();
    state.job = job;
    state.history = [];
    state.board = [];
    redraw();
    renderBoard();
    var ctl = new AbortController();
    state.stream = ctl;
    fetch('/jobs/' + encodeURIComponent(job.id) + '/events', { headers: headers(), signal: ctl.signal })
      .then(function (r) {
        if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
        var reader = r.body.getReader(), dec = new TextDecoder(), buf = '';
        function pump() {
          return reader.read().then(function (res) {
            if (res.done) return;
            buf += dec.decode(res.value, { stream: true });
            var cut;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
              handle(buf.slice(0, cut));
              buf = buf.slice(cut + 2);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (e) {
        if (e.name !== 'AbortError') $('chart-info').textContent = 'Event stream ended: ' + e.message;
      });

    function handle(block) {
      var ev = 'message', data = '';
      block.split('\n').forEach(function (line) {
        if (line.indexOf('event:') === 0) ev = line.slice(6).trim();
        else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
      });
      if (!data || state.stream !== ctl) return;
      var obj = JSON.parse(data);
      if (ev === 'progress') {
        if (state.history.length && obj.epoch <= state.history[state.history.length - 1].epoch) state.history = [];
        state.history.push(obj);
        state.job.status = 'running';
      } else if (ev === 'candidate') {
        boardAdd(obj);
        state.job.status = 'running';
      } else if (ev === 'done') {
        state.job = obj;
        var msg = $('train-msg');
        if (msg.textContent.indexOf('Job ' + obj.id.slice(0, 8) + ' ') === 0) {
          msg.className = obj.status === 'succeeded' ? 'msg' : 'msg err';
          msg.textContent = 'Job ' + obj.id.slice(0, 8) + ' ' + obj.status +
            (obj.model_version ? ': ' + obj.model + ' v' + obj.model_version + ' ' + valMetric(obj.metrics) : '') +
            (obj.error ? ': ' + obj.error.message : '');
        }
        state.history = obj.history || state.history;
        if (Array.isArray(obj.leaderboard)) state.board = obj.leaderboard.slice();
        refresh();
      }
      redraw();
      renderBoard();
    }
  }

  /* ---------------------------------------------------------------- models and jobs */

  function renderModels() {
    var tb = $('models').querySelector('tbody');
    tb.textContent = '';
    $('models-empty').hidden = state.models.length > 0;
    state.models.forEach(function (m) {
      var tr = el('tr', { 'data-model': m.name, class: state.model === m.name ? 'sel' : '' }, [
        el('td', { text: m.name }), el('td', { text: 'v' + m.version + (m.pinned ? ' (pinned)' : '') }),
        el('td', { text: m.task }), el('td', { text: fmtTime(m.created_at) })]);
      tr.addEventListener('click', function () { selectModel(m.name); });
      tb.appendChild(tr);
    });
    var sel = $('predict-model'), cur = sel.value;
    sel.textContent = '';
    state.models.forEach(function (m) { sel.appendChild(el('option', { value: m.name, text: m.name })); });
    if (cur && state.models.some(function (m) { return m.name === cur; })) sel.value = cur;
    else if (state.models.length) { sel.value = state.models[0].name; fillTemplate(); }
  }

  function renderJobs() {
    var tb = $('jobs').querySelector('tbody');
    tb.textContent = '';
    $('jobs-empty').hidden = state.jobs.length > 0;
    state.jobs.forEach(function (j) {
      var pct = Math.round((j.progress || 0) * 100);
      var tr = el('tr', { 'data-job': j.id, class: state.job && state.job.id === j.id ? 'sel' : '' }, [
        el('td', { text: j.model }),
        el('td', { class: 'status-' + j.status, text: j.status }),
        el('td', {}, [el('span', { class: 'bar' }, [el('span', { style: 'width:' + pct + '%' })]),
          j.epoch + '/' + j.epochs]),
        el('td', { text: valMetric(j.metrics) }),
        el('td', { text: fmtTime(j.created_at) })]);
      tr.title = j.error ? j.error.message : j.id;
      tr.addEventListener('click', function () { follow(j); renderJobs(); });
      tb.appendChild(tr);
    });
  }

  /* every CSV column as training saw it: type, missing and distinct counts, the reason */
  function columnsTable(cols) {
    var used = cols.filter(function (c) { return c.type !== 'ignored' && c.type !== 'label'; }).length;
    var ignored = cols.filter(function (c) { return c.type === 'ignored'; }).length;
    var body = el('tbody');
    cols.forEach(function (c) {
      var tr = el('tr', { class: 'col-' + c.type }, [
        el('td', { text: c.name === '' ? '(unnamed)' : c.name }), el('td', { text: c.type }),
        el('td', { class: 'n', text: String(c.missing) }),
        el('td', { class: 'n', text: c.distinct + (c.distinct_at_least ? '+' : '') }),
        el('td', { text: c.reason })]);
      tr.setAttribute('data-column', c.name);
      body.appendChild(tr);
    });
    var det = el('details', { class: 'columns' }, [
      el('summary', { text: 'Columns: ' + cols.length + ' (' + used + ' inputs, ' + ignored + ' ignored, 1 label)' }),
      el('table', {}, [el('thead', {}, [el('tr', {}, ['Name', 'Type', 'Missing', 'Distinct', 'Reason'].map(function (h) { return el('th', { text: h }); }))]), body])]);
    det.open = cols.length <= 20 || ignored > 0;
    return det;
  }

  /* Horizontal bars for signed values: rows of [name, value, extra text]; bars grow right
   * (positive) or left (negative) from the middle, scaled to the largest magnitude. */
  function barChart(id, rows, digits) {
    var max = 0;
    rows.forEach(function (r) { max = Math.max(max, Math.abs(r[1])); });
    var box = el('div', { class: 'bars', id: id });
    rows.forEach(function (r) {
      var v = r[1], pct = max > 0 ? Math.abs(v) / max * 50 : 0;
      box.appendChild(el('div', { class: 'attr', 'data-name': r[0], 'data-value': String(v) }, [
        el('span', { class: 'name', text: r[0], title: r[0] }),
        el('span', { class: 'axis' }, [el('span', {
          class: v >= 0 ? 'pos' : 'neg',
          style: (v >= 0 ? 'left:50%' : 'right:50%') + ';width:' + pct.toFixed(1) + '%'
        })]),
        el('span', { class: 'val', text: (v >= 0 ? '+' : '') + num(v, digits) + (r[2] || '') })]));
    });
    return box;
  }

  /* The explanation of one prediction: its largest attributions as bars. */
  function explanationChart(e) {
    var names = Object.keys(e.attributions || {});
    var rows = names.slice(0, 12).map(function (n) { return [n, e.attributions[n]]; });
    var rest = names.length - rows.length;
    return el('div', { class: 'explain' }, [
      el('div', { class: 'muted', text: 'Why: ' + (e['class'] !== undefined ? 'logit of ' + e['class'] : 'value') +
        ' ' + num(e.output, 4) + ' against ' + num(e.baseline, 4) + ' at the baseline (' +
        (e.baseline_source === 'zeros' ? 'zeros' : 'training means') + ')' }),
      barChart('predict-explain', rows, 3),
      rest > 0 ? el('div', { class: 'muted', text: '… and ' + rest + ' more inputs' }) : null]);
  }

  /* The message with each explained word marked by the sign and size of its weight. */
  function highlightWords(text, words) {
    var w = {}, max = 0;
    (words || []).forEach(function (x) {
      if (x.word.indexOf(' ') < 0) { w[x.word] = x.value; max = Math.max(max, Math.abs(x.value)); }
    });
    var box = el('div', { class: 'message', id: 'spam-words' });
    text.split(/([A-Za-z0-9\u00C0-\uFFFF']+)/).forEach(function (part, i) {
      var v = i % 2 === 1 ? w[part.toLowerCase()] : undefined;
      if (v === undefined || max === 0) { box.appendChild(document.createTextNode(part)); return; }
      var a = (0.15 + 0.75 * Math.abs(v) / max).toFixed(2);
      box.appendChild(el('mark', {
        class: 'w ' + (v >= 0 ? 'pos' : 'neg'), 'data-value': String(v), text: part,
        title: (v >= 0 ? '+' : '') + num(v, 3),
        style: 'background:rgba(' + (v >= 0 ? '185,28,28,' : '21,128,61,') + a + ')'
      }));
    });
    return box;
  }

  function selectModel(name) {
    state.model = name;
    renderModels();
    api('/models/' + encodeURIComponent(name)).then(function (c) {
      state.cards[name] = c;
      var box = $('model-card');
      box.hidden = false;
      box.textContent = '';
      var inputs = el('dd');
      var ins = c.inputs || [], shown = ins.length > 16 ? 12 : ins.length;
      ins.slice(0, shown).forEach(function (i) { inputs.appendChild(el('span', { class: 'chip', text: i.name + ' · ' + i.type })); });
      if (shown < ins.length) inputs.appendChild(el('span', { class: 'muted', text: '… and ' + (ins.length - shown) + ' more' }));
      var metrics = el('dd');
      Object.keys(c.metrics || {}).forEach(function (k) {
        var v = c.metrics[k];
        if (typeof v === 'number') metrics.appendChild(el('span', { class: 'chip', text: k + ' ' + (Number.isInteger(v) ? v : num(v, 4)) }));
      });
      var arch = c.architecture || {};
      box.appendChild(el('dl', {}, [
        el('dt', { text: 'Model' }), el('dd', { text: c.name + ' v' + c.version + ' (versions ' + (c.versions || []).join(', ') + ')' }),
        el('dt', { text: 'Lineage' }), el('dd', { text: (c.base ? 'warm start from ' + c.base : 'trained from scratch') +
          (c.promoted === false ? '; held back by the gate (' + c.gate.metric + ' ' + num(c.gate.challenger, 4) + ' vs ' + num(c.gate.champion, 4) + ')' : '') }),
        el('dt', { text: 'Task' }), el('dd', { text: c.task }),
        el('dt', { text: 'Label' }), el('dd', { text: c.label ? c.label.name + (c.label.classes ? ': ' + c.label.classes.join(', ') : '') : '' }),
        el('dt', { text: 'Layers' }), el('dd', { text: (arch.layers || []).join(' → ') + (arch.activation ? ' (' + arch.activation + ', ' + arch.output + ')' : '') }),
        el('dt', { text: 'Inputs' }), inputs,
        el('dt', { text: 'Metrics' }), metrics]));
      if (c.importance && c.importance.inputs) {
        var imp = c.importance, ir = imp.inputs.slice(0, 12).map(function (i) {
          return [i.name, i.mean, ' ± ' + num(i.sd, 3)];
        });
        box.appendChild(el('div', { class: 'importance' }, [
          el('div', { class: 'muted', text: 'Importance: drop in ' + imp.metric + ' when a column is shuffled (' +
            imp.shuffles + ' shuffles of the validation split)' }),
          barChart('importance', ir, 3)]));
      }
      box.appendChild(columnsTable(c.columns || []));
      $('predict-model').value = name;
      fillTemplate();
    }).catch(function (e) { $('model-card').hidden = false; $('model-card').textContent = e.message; });
  }

  /* a prediction template from the model card: every input with a sample value */
  function fillTemplate() {
    var name = $('predict-model').value;
    if (!name) return;
    var use = function (c) {
      var inst = {};
      (c.inputs || []).forEach(function (i) {
        inst[i.name] = i.type === 'numeric' ? 0 : (i.categories && i.categories.length ? i.categories[0] : '');
      });
      $('predict-input').value = JSON.stringify(inst, null, 1);
    };
    if (state.cards[name]) use(state.cards[name]);
    else api('/models/' + encodeURIComponent(name)).then(function (c) { state.cards[name] = c; use(c); }).catch(function () {});
  }

  function refresh() {
    api('/readyz').then(function () {
      $('ready').textContent = 'ready'; $('ready').className = 'badge ok';
    }).catch(function (e) {
      $('ready').textContent = e.status === 401 ? 'key needed' : 'not ready'; $('ready').className = 'badge bad';
    });
    api('/models').then(function (b) { state.models = b.models; renderModels(); }).catch(function () {});
    api('/jobs?limit=20').then(function (b) {
      state.jobs = b.jobs;
      renderJobs();
      if (!state.job && state.jobs.length) follow(state.jobs[0]);
    }).catch(function () {});
  }

  /* ---------------------------------------------------------------- forms */

  $('train-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var fd = new FormData();
    var f = $('train-file').files[0];
    if (!f) return;
    fd.append('file', f, f.name);
    var auto = $('train-auto').checked;
    var fields = ['model', 'label', 'epochs', 'patience', 'learning_rate'];
    fields = fields.concat(auto ? ['max_seconds', 'max_models'] : ['hidden']);
    if (auto) fd.append('auto', 'true');
    fields.forEach(function (k) {
      var v = ev.target.elements[k].value.trim();
      if (v !== '' || k === 'hidden') fd.append(k, v);
    });
    var msg = $('train-msg');
    msg.className = 'msg';
    msg.textContent = 'Uploading…';
    $('train-btn').disabled = true;
    api('/train', { method: 'POST', body: fd }).then(function (job) {
      msg.textContent = 'Job ' + job.id.slice(0, 8) + ' ' + job.status + ' (' + job.dataset.rows + ' rows, ' +
        job.dataset.columns + ' columns)';
      follow(job);
      refresh();
    }).catch(function (e) {
      msg.className = 'msg err';
      var d = e.body && e.body.details;
      msg.textContent = e.message + (d && d.line ? ' (line ' + d.line + (d.column ? ', column ' + d.column : '') + ')' : '');
    }).then(function () { $('train-btn').disabled = false; });
  });

  /* auto searches the hidden layers: their field gives way to the search's limits */
  function autoToggled() {
    var on = $('train-auto').checked;
    $('train-hidden').disabled = on;
    $('train-max-seconds').disabled = !on;
    $('train-max-models').disabled = !on;
  }
  $('train-auto').addEventListener('change', autoToggled);
  autoToggled();

  $('predict-model').addEventListener('change', fillTemplate);

  $('predict-btn').addEventListener('click', function () {
    var out = $('predict-out'), name = $('predict-model').value, inst;
    out.textContent = '';
    try { inst = JSON.parse($('predict-input').value); } catch (e) {
      out.appendChild(el('p', { class: 'err', text: 'Not JSON: ' + e.message })); return;
    }
    api('/models/' + encodeURIComponent(name) + '/predict', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ instances: [inst], explain: true })
    }).then(function (b) {
      var p = b.predictions[0], box = el('div', { class: 'result' });
      if (p.label !== undefined) {
        box.appendChild(el('div', {}, ['Prediction: ', el('span', { class: 'label', id: 'predict-label', text: p.label }),
          ' (' + b.model + ' v' + b.version + ')']));
        Object.keys(p.probabilities).forEach(function (c) {
          var v = p.probabilities[c];
          box.appendChild(el('div', { class: 'prob' }, [el('span', { text: c }),
            el('span', { class: 'track' }, [el('span', { style: 'width:' + (v * 100).toFixed(1) + '%' })]),
            el('span', { text: (v * 100).toFixed(1) + '%' })]));
        });
      } else {
        box.appendChild(el('div', {}, ['Prediction: ', el('span', { class: 'label', id: 'predict-label', text: num(p.value, 4) })]));
      }
      if (p.explanation) box.appendChild(explanationChart(p.explanation));
      out.appendChild(box);
    }).catch(function (e) {
      var d = e.body && e.body.details;
      out.appendChild(el('p', { class: 'err', text: e.message + (d && d.field ? ' (' + d.field + ')' : '') }));
    });
  });

  $('spam-btn').addEventListener('click', function () {
    var out = $('spam-out'), text = $('spam-text').value;
    out.textContent = '';
    api('/spam-score', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: text, explain: { top: 200 } })
    }).then(function (b) {
      out.appendChild(el('div', { class: 'result' }, [
        el('span', { class: 'score ' + (b.spam ? 'spam' : 'ham'), id: 'spam-score', text: (b.score * 100).toFixed(1) + '%' }),
        ' ' + (b.spam ? 'spam' : 'not spam') + ' (threshold ' + b.threshold + ', model ' + b.model + ' v' + b.version + ')']));
      var e = b.explanation;
      if (e) {
        out.appendChild(el('div', { class: 'muted', text: 'Red words pushed the score up, green ones down; the stronger the colour, the larger the push.' }));
        out.appendChild(highlightWords(text, e.words));
        var shape = Object.keys(e.shape || {}).map(function (k) { return [k, e.shape[k]]; })
          .filter(function (r) { return r[1] !== 0; });
        if (shape.length) out.appendChild(barChart('spam-shape', shape, 4));
      }
    }).catch(function (e) { out.appendChild(el('p', { class: 'err', text: e.message })); });
  });

  var key = $('api-key');
  try { key.value = localStorage.getItem('neurond-key') || ''; } catch (e) { /* private mode */ }
  key.addEventListener('change', function () {
    try { localStorage.setItem('neurond-key', key.value); } catch (e) { /* private mode */ }
    refresh();
  });
  window.addEventListener('resize', redraw);

  redraw();
  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, 2000);
})();
