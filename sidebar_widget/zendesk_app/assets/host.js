/* Zendesk ticket sidebar host for the handoff widget (docs/widget.md, "postMessage protocol").
   1. Ask the connector, through Zendesk's proxy (secure setting: the shared secret never reaches
      the browser), for a widget link for this ticket's handoff (ticket.externalId = handoff id).
   2. Frame the widget and answer its handshake: the agent's name and the "insert" capability.
   3. "Insert" appends the draft to the reply with ticket.comment.appendText; on save, tell the
      widget what was sent so it can record sent_unedited / sent_edited with the edit distance. */
(function () {
  "use strict";
  var client = ZAFClient.init();
  var frame = document.getElementById("widget");
  var status = document.getElementById("status");
  var widgetOrigin = null;

  function fail(text) {
    status.textContent = text;
    status.className = "error";
    frame.hidden = true;
  }

  function reply(msg) {
    msg.source = "handoff-host";
    msg.version = 1;
    frame.contentWindow.postMessage(msg, widgetOrigin);
  }

  client.invoke("resize", {width: "100%", height: "640px"});

  Promise.all([
    client.metadata(),
    client.get(["ticket.id", "ticket.externalId", "currentUser.name", "currentUser.email"])
  ]).then(function (results) {
    var settings = results[0].settings || {};
    var data = results[1];
    var base = String(settings.connector_url || "").replace(/\/+$/, "");
    if (!/^https?:\/\//.test(base)) { throw new Error("Set the app's Connector URL."); }
    widgetOrigin = new URL(base).origin;
    var externalId = data["ticket.externalId"];
    if (!externalId) { throw new Error("This ticket did not come from a bot handoff."); }
    window.__agent = data["currentUser.name"] || data["currentUser.email"] || "";
    return client.request({
      url: base + "/v1/widget/sessions",
      type: "POST",
      contentType: "application/json",
      secure: true,
      headers: {"Authorization": "Bearer {{setting.shared_secret}}"},
      data: JSON.stringify({handoff_id: externalId, agent: window.__agent, host_origin: window.location.origin})
    });
  }).then(function (session) {
    frame.src = session.widget_url;
    frame.hidden = false;
    status.hidden = true;
  }).catch(function (err) {
    fail(err && err.status === 404 ? "No handoff for this ticket." : "Could not open the handoff: " +
      String((err && (err.message || err.statusText)) || "unknown error"));
  });

  window.addEventListener("message", function (event) {
    if (!widgetOrigin || event.origin !== widgetOrigin || event.source !== frame.contentWindow) { return; }
    var msg = event.data;
    if (!msg || msg.source !== "handoff-widget" || msg.version !== 1) { return; }
    if (msg.type === "ready") {
      reply({type: "context", agent: {name: window.__agent || ""}, capabilities: ["insert"]});
    } else if (msg.type === "insert") {
      client.invoke("ticket.comment.appendText", String(msg.text || "")).then(function () {
        reply({type: "insert.result", request_id: msg.request_id, ok: true});
      }, function (err) {
        reply({type: "insert.result", request_id: msg.request_id, ok: false, error: String(err)});
      });
    } else if (msg.type === "resize" && msg.height) {
      client.invoke("resize", {width: "100%", height: Math.min(Math.max(msg.height, 320), 2000) + "px"});
    }
  });

  client.on("ticket.save", function () {
    return client.get("ticket.comment.text").then(function (data) {
      var text = data["ticket.comment.text"];
      if (text && widgetOrigin && frame.contentWindow) { reply({type: "reply.sent", text: text}); }
      return true;
    });
  });
})();
