/* The agent widget: Copy / Insert / Discard the draft, Take over, Reply, Hand back, the live view
   (Server-Sent Events: new turns, control changes, reminders), token renewal, and the
   postMessage handshake with a host helpdesk. Plain ES2017, no dependencies, no build step.
   Protocol (docs/widget.md): messages are objects {source, version: 1, type, ...}; the widget sends
   source "handoff-widget" only to the host origin the server vetted (data-host-origin), and accepts
   only messages from that origin, from window.parent, with source "handoff-host". */
(function () {
  "use strict";
  var root = document.querySelector("[data-hw]");
  if (!root) { return; }
  var d = root.dataset;
  var state = {
    token: d.token, csrf: d.csrf, expiresAt: Number(d.expiresAt) || 0,
    hostOrigin: d.hostOrigin || "", host: null, draftUsed: false, pending: {}, seq: 0,
    lastSeq: Number(d.lastSeq) || 0, owner: null, stream: null
  };
  var replyBox = document.getElementById("hw-reply-text");
  var draft = document.getElementById("hw-draft");
  var insertBtn = document.getElementById("hw-insert");

  function $(id) { return document.getElementById(id); }

  function say(id, text, isError) {
    var el = $(id);
    if (!el) { return; }
    el.textContent = text;
    el.classList.toggle("hw-error", !!isError);
  }

  function api(url, body, extraHeaders) {
    var headers = {"Content-Type": "application/json", "X-Widget-Token": state.token, "X-CSRF-Token": state.csrf};
    Object.keys(extraHeaders || {}).forEach(function (k) { headers[k] = extraHeaders[k]; });
    return fetch(url, {
      method: "POST", credentials: "omit", cache: "no-store", headers: headers,
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var msg = data && (data.detail || data.title) ? data.title + ": " + data.detail : "HTTP " + res.status;
          var err = new Error(msg);
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  }

  function toHost(type, extra) {
    if (!state.hostOrigin || window.parent === window) { return false; }
    var msg = {source: "handoff-widget", version: 1, type: type, handoff_id: d.handoffId};
    Object.keys(extra || {}).forEach(function (k) { msg[k] = extra[k]; });
    window.parent.postMessage(msg, state.hostOrigin);
    return true;
  }

  function draftEvent(action, finalText) {
    var body = {action: action};
    if (typeof finalText === "string") { body.final_text = finalText; }
    var actor = currentActor();
    if (actor) { body.actor = actor; }
    return api(d.draftUrl, body);
  }

  function currentActor() {
    var inputs = document.querySelectorAll("[data-actor]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].value.trim()) { return inputs[i].value.trim(); }
    }
    return d.agent || "";
  }

  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(); });
    }
    return legacyCopy();
  }

  function legacyCopy() {
    draft.focus();
    draft.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    return ok ? Promise.resolve() : Promise.reject(new Error("the browser refused to copy; press Ctrl+C"));
  }

  if (draft) {
    $("hw-copy").addEventListener("click", function () {
      var text = draft.value;
      copyText(text).then(function () {
        state.draftUsed = true;
        say("hw-draft-status", "Copied to the clipboard.");
        return draftEvent("copied", text);
      }).catch(function (e) { say("hw-draft-status", e.message, true); });
    });

    insertBtn.addEventListener("click", function () {
      var id = "ins-" + (++state.seq);
      var text = draft.value;
      if (replyBox && !(state.host && state.hostOrigin)) {
        // no helpdesk around: the draft goes into our own reply box
        replyBox.value = text;
        replyBox.focus();
        state.draftUsed = true;
        say("hw-draft-status", "Inserted into the reply box.");
        draftEvent("inserted", text).catch(function (e) { say("hw-draft-status", e.message, true); });
        return;
      }
      if (!toHost("insert", {text: text, request_id: id})) {
        say("hw-draft-status", "No helpdesk is connected to insert into.", true);
        return;
      }
      say("hw-draft-status", "Inserting…");
      state.pending[id] = {text: text, timer: setTimeout(function () {
        delete state.pending[id];
        say("hw-draft-status", "The helpdesk did not confirm the insert.", true);
      }, 5000)};
    });

    $("hw-discard").addEventListener("click", function () {
      draftEvent("discarded").then(function () {
        say("hw-draft-status", "Draft marked as not useful.");
      }).catch(function (e) { say("hw-draft-status", e.message, true); });
    });
  }

  function onInsertResult(msg) {
    var p = state.pending[msg.request_id];
    if (!p) { return; }
    clearTimeout(p.timer);
    delete state.pending[msg.request_id];
    if (!msg.ok) {
      say("hw-draft-status", "The helpdesk could not insert: " + String(msg.error || "unknown error"), true);
      return;
    }
    state.draftUsed = true;
    say("hw-draft-status", "Inserted into the reply.");
    draftEvent("inserted", p.text).catch(function (e) { say("hw-draft-status", e.message, true); });
  }

  function onReplySent(msg) {
    if (!draft || !state.draftUsed || typeof msg.text !== "string") { return; }
    var original = draft.getAttribute("data-original") || "";
    var action = msg.text.trim() === original.trim() ? "sent_unedited" : "sent_edited";
    draftEvent(action, msg.text).catch(function (e) { say("hw-draft-status", e.message, true); });
  }

  function onContext(msg) {
    state.host = msg;
    var caps = Array.isArray(msg.capabilities) ? msg.capabilities : [];
    if (insertBtn && caps.indexOf("insert") !== -1) {
      insertBtn.disabled = false;
      say("hw-insert-hint", "Insert puts the draft in the reply box.");
    }
    var name = msg.agent && typeof msg.agent.name === "string" ? msg.agent.name : "";
    if (name) {
      document.querySelectorAll("[data-actor]").forEach(function (el) { if (!el.value) { el.value = name; } });
    }
  }

  window.addEventListener("message", function (event) {
    if (!state.hostOrigin || event.origin !== state.hostOrigin || event.source !== window.parent) { return; }
    var msg = event.data;
    if (!msg || typeof msg !== "object" || msg.source !== "handoff-host" || msg.version !== 1) { return; }
    if (msg.type === "context") { onContext(msg); }
    else if (msg.type === "insert.result") { onInsertResult(msg); }
    else if (msg.type === "reply.sent") { onReplySent(msg); }
  });

  function act(form, url, body, done) {
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say("hw-action-status", "Working…");
    api(url, body).then(function (control) {
      say("hw-action-status", done);
      toHost("control.changed", {owner: control && control.owner, version: control && control.version});
      if (d.afterUrl) { window.location.assign(d.afterUrl); } else { window.location.reload(); }
    }).catch(function (e) {
      button.disabled = false;
      say("hw-action-status", e.message, true);
    });
  }

  var claimForm = $("hw-claim");
  if (claimForm) {
    claimForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!claimForm.reportValidity()) { return; }
      act(claimForm, d.claimUrl, {actor: $("hw-claim-actor").value.trim()}, "You own the conversation now.");
    });
  }

  var replyForm = $("hw-reply");
  if (replyForm) {
    replyForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!replyForm.reportValidity()) { return; }
      var text = replyBox.value.trim();
      var button = replyForm.querySelector("button[type=submit]");
      var key = "r-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
      button.disabled = true;
      say("hw-action-status", "Sending…");
      api(d.messagesUrl, {text: text, actor: d.claimedBy || currentActor() || null}, {"Idempotency-Key": key})
        .then(function (message) {
          button.disabled = false;
          replyBox.value = "";
          say("hw-action-status", "Sent to the customer.");
          if (draft && state.draftUsed) {
            var original = draft.getAttribute("data-original") || "";
            draftEvent(text === original.trim() ? "sent_unedited" : "sent_edited", text)
              .catch(function (e) { say("hw-draft-status", e.message, true); });
            state.draftUsed = false;
          }
          return message;
        }).catch(function (e) {
          button.disabled = false;
          say("hw-action-status", e.message, true);
        });
    });
  }

  // the live view: one EventSource, reopened with the current token after each response ends
  function addTurn(turn) {
    var list = $("hw-turns");
    if (!list || turn.seq <= state.lastSeq) { return; }
    state.lastSeq = turn.seq;
    var li = document.createElement("li");
    li.className = "hw-turn hw-turn-" + turn.role;
    li.setAttribute("data-seq", String(turn.seq));
    var who = document.createElement("span");
    who.className = "hw-role";
    who.textContent = turn.author && turn.author.name ? turn.author.name : turn.role;
    li.appendChild(who);
    li.appendChild(document.createTextNode(" " + turn.text));
    list.appendChild(li);
    var empty = $("hw-no-turns");
    if (empty) { empty.hidden = true; }
  }

  function onControl(c) {
    var first = state.owner === null;
    root.setAttribute("data-live", "on");  // the stream answered: the page is live
    var changed = !first && (c.owner !== state.owner.owner || c.status !== state.owner.status);
    state.owner = c;
    if (!changed) { return; }
    var owner = $("hw-owner");
    var me = currentActor();
    if (c.status === "handed_back") {
      owner.textContent = "Handed back to the bot";
    } else if (c.owner === "agent") {
      owner.textContent = "With " + (c.claimed_by || "an agent");
    }
    owner.setAttribute("data-owner", c.owner);
    var claim = $("hw-claim");
    if (claim && c.owner !== "pending_agent") {
      claim.querySelector("button[type=submit]").disabled = true;
      say("hw-action-status", c.claimed_by && c.claimed_by !== me
        ? c.claimed_by + " took this conversation over." : "Someone took this conversation over.", true);
    }
    if (c.status === "handed_back") {
      if (replyBox) { replyBox.readOnly = true; replyForm.querySelector("button[type=submit]").disabled = true; }
      if (draft) { draft.readOnly = true; }
      say("hw-live-status", "Handed back to the bot: the conversation is the bot's again.");
    }
  }

  function listen() {
    if (!window.EventSource || !d.streamUrl) { return; }
    var url = d.streamUrl + "?token=" + encodeURIComponent(state.token) + "&after=" + state.lastSeq;
    var source = new EventSource(url);
    state.stream = source;
    source.addEventListener("turn", function (e) { addTurn(JSON.parse(e.data)); });
    source.addEventListener("control", function (e) { onControl(JSON.parse(e.data)); });
    source.addEventListener("reminder", function (e) {
      var r = JSON.parse(e.data);
      say("hw-live-status", "Reminder " + r.count + " sent: the customer is still waiting.");
    });
    source.addEventListener("error", function () {
      // the response ended (or the token was renewed): reconnect with the current token
      source.close();
      setTimeout(listen, 1000);
    });
  }
  listen();

  var backForm = $("hw-handback");
  if (backForm) {
    backForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var actor = currentActor();
      if (!actor) {
        say("hw-action-status", "Enter your name first.", true);
        var first = document.querySelector("[data-actor]:not([type=hidden])");
        if (first) { first.focus(); }
        return;
      }
      if (!backForm.reportValidity()) { return; }
      act(backForm, d.handbackUrl, {
        actor: actor, note: $("hw-note").value.trim(),
        resolution: $("hw-resolution").value || null, resume_hint: $("hw-resume").value.trim() || null
      }, "Handed back to the bot.");
    });
  }

  // renew the token a minute before it expires, so a sidebar left open all day keeps working
  function scheduleRenewal() {
    var wait = (state.expiresAt - 60) * 1000 - Date.now();
    setTimeout(function () {
      api(d.renewUrl, {}).then(function (fresh) {
        state.token = fresh.token;
        state.csrf = fresh.csrf;
        state.expiresAt = fresh.expires_at;
        if (d.mode === "widget" && window.history && window.history.replaceState) {
          var url = new URL(window.location.href);
          url.searchParams.set("token", fresh.token);
          window.history.replaceState(null, "", url.toString());
        }
        scheduleRenewal();
      }).catch(function () {
        say("hw-action-status", "This widget link expired; reopen it from the helpdesk.", true);
      });
    }, Math.max(wait, 5000));
  }
  if (state.expiresAt) { scheduleRenewal(); }

  if (state.hostOrigin) {
    toHost("ready", {capabilities: ["copy", "insert", "claim", "handback"]});
    if (window.ResizeObserver) {
      var last = 0;
      new ResizeObserver(function () {
        var h = Math.ceil(document.documentElement.scrollHeight);
        if (h !== last) { last = h; toHost("resize", {height: h}); }
      }).observe(document.body);
    }
  }
})();
