"""The Jinja template of the HTML report (a module, so it ships with the package as code)."""

TEMPLATE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Handoff report {{ k.since[:10] }} – {{ k.until[:10] }}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 60rem;
         padding: 0 1rem; color: #111; }
  h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  .muted { color: #666; } table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  nav { margin-bottom: 1rem; } form.filters { display: flex; gap: 1rem; flex-wrap: wrap; align-items: end; }
  tr.off td { color: #b91c1c; font-weight: 600; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5rem; }
  @media (max-width: 50rem) { .grid { grid-template-columns: 1fr; } }
</style>
</head>
<body>
{% if nav %}<nav aria-label="Connector pages"><a href="/">Home</a> · <strong>Dashboard</strong> ·
<a href="/inbox">Inbox</a> · <a href="/docs">API docs</a> · <span class="muted">the same report as a file:
<code>handoff report --since {{ nav.since }}{% if k.team %} --team {{ k.team }}{% endif %} --output report.html</code></span></nav>
<form method="get" action="/dashboard" class="filters">
  <label>Period <select name="since">{% for value, text in periods %}<option value="{{ value }}"{% if value == nav.since %} selected{% endif %}>{{ text }}</option>{% endfor %}
  {% if nav.since not in periods|map('first') %}<option value="{{ nav.since }}" selected>since {{ nav.since }}</option>{% endif %}</select></label>
  <label>Team <select name="team"><option value="">all teams</option>{% for t in nav.teams %}<option{% if t == k.team %} selected{% endif %}>{{ t }}</option>{% endfor %}</select></label>
  <label>Source <select name="source"><option value="">all sources</option>{% for s in nav.sources %}<option{% if s == k.source %} selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
  {% if nav.key %}<input type="hidden" name="key" value="{{ nav.key }}">{% endif %}
  <button type="submit">Show</button>
</form>{% endif %}
<h1>Handoff report</h1>
<p class="muted">{{ k.since[:16] }} → {{ k.until[:16] }} (UTC){% if k.team %} · team {{ k.team }}{% endif %}{% if k.source %} · source {{ k.source }}{% endif %}
 · generated {{ generated_at[:19] }}</p>
{% if k.handoffs == 0 %}<p><strong>No handoffs in this period.</strong></p>{% endif %}

<h2>Key figures</h2>
<table>
  <tr><th>KPI</th><th>Value</th><th>Target / note</th></tr>
  {% for name, value, note in rows %}{% set off = note.startswith(off_marker) %}<tr{% if off %} class="off"{% endif %}><td>{{ name }}</td><td class="num">{{ value }}{% if off %} ✗{% endif %}</td><td class="muted">{{ note }}</td></tr>
  {% endfor %}
</table>
{% if k.clock_anomalies %}<p class="muted">{{ k.clock_anomalies }} duration(s) ignored: the clock went backwards.</p>{% endif %}

<h2>Handoffs per day, by deciding reason</h2>
{{ charts.per_day }}
<p class="muted">Each handoff counts once, under the reason that decided it. A handoff can have
several reasons: the mix of all of them is under "Top reasons" below.</p>

<h2>Time to first agent response</h2>
{{ charts.first_response }}

<div class="grid">
<div><h2>Routing accuracy by team</h2>{{ charts.routing }}</div>
<div><h2>Draft usage</h2>{{ charts.drafts }}
{% if not k.drafts.available %}<p class="muted">No draft events are recorded yet.</p>{% endif %}
<h2>Repeat-context rate</h2>{{ charts.repeat }}
<p class="muted">Agent questions for what the payload held: {{ k.repeat_context.agent_asks or "none" }};
customer restatements: {{ k.repeat_context.customer_restates }}.</p></div>
</div>

<h2>Learning from handoffs</h2>
<p class="muted">What the bot could learn to answer: the intents and reasons behind handoffs in this period.</p>
<div class="grid">
<table><tr><th>Top intents</th><th class="num">Handoffs</th></tr>
{% for name, n in k.top_intents %}<tr><td>{{ name }}</td><td class="num">{{ n }}</td></tr>
{% else %}<tr><td colspan="2" class="muted">none</td></tr>{% endfor %}</table>
<table><tr><th>Top reasons (all reasons of each handoff)</th><th class="num">Handoffs</th></tr>
{% for name, n in k.top_reasons %}<tr><td>{{ name }}</td><td class="num">{{ n }}</td></tr>
{% else %}<tr><td colspan="2" class="muted">none</td></tr>{% endfor %}</table>
</div>
</body>
</html>
"""
