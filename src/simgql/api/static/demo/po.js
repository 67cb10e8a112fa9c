/*
 * simgql demo: the "Edit Purchase Order" view of one PO, kept live (see simgql/api/demo_view.py).
 *
 * - The bearer token comes from the URL fragment (#token=<JWT>), which never reaches the
 *   server; it leaves the address bar and stays in this tab's sessionStorage for reloads.
 * - One GraphQL query over POST fetches the PO; the page is rebuilt from DOM nodes and
 *   textContent only (the page's CSP enforces Trusted Types: no HTML from strings).
 * - A native WebSocket speaking graphql-transport-ws follows purchaseOrderStatusChanged;
 *   each event re-fetches the PO. A closed socket reconnects with backoff and resumes after
 *   the last cursor, so no change is missed.
 */
(function () {
  "use strict";

  var ENDPOINT = document.body.getAttribute("data-graphql") || "/graphql";
  var PO_ID = document.body.getAttribute("data-po-id");
  var TOKEN_KEY = "simgql-demo-token";
  var SIMS_SHOWN = 20;
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 30000;
  // Errors that another try with the same token and PO cannot cure.
  var FINAL = ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"];

  var PO_QUERY =
    "query DemoPurchaseOrder($id: ID!) { purchaseOrder(id: $id) {" +
    " id number status version createdBy createdAt updatedAt requestedShipDate rejectionReason" +
    " account { code name }" +
    " lines { id quantity assignedSimCount product { code name } unitPrice { amount currency }" +
    " sims { iccid imsi msisdn } }" +
    " total { amount currency }" +
    " shippingAddress { recipient company street city postalCode region country phone }" +
    " shipping { carrier trackingNumber shippedAt }" +
    " statusHistory { fromStatus toStatus salesOrderStatus actor note occurredAt" +
    " salesOrder { warehouse { code } } }" +
    " salesOrders { id status error warehouse { code name }" +
    " dispatch { carrier trackingNumber dispatchedAt } }" +
    " availableActions } }";

  var SUBSCRIPTION =
    "subscription DemoPurchaseOrderEvents($id: ID!, $after: String) {" +
    " purchaseOrderStatusChanged(id: $id, after: $after) {" +
    " cursor fromStatus toStatus salesOrderStatus actor occurredAt } }";

  function reasonOnly(question, required) {
    return function () {
      var reason = window.prompt(question, "");
      if (reason === null || (required && !reason.trim())) return null;
      return reason.trim() ? { reason: reason.trim() } : {};
    };
  }

  // What each button does: the mutation, its input type, and (when the note is not enough)
  // a function asking for the extra input (null: the user gave up).
  var ACTIONS = {
    SUBMIT: { label: "Submit", mutation: "submitPurchaseOrder" },
    ACCEPT: { label: "Accept", mutation: "acceptPurchaseOrder" },
    REJECT: {
      label: "Reject\u2026", mutation: "rejectPurchaseOrder", input: "ReasonInput",
      ask: reasonOnly("Why is the purchase order rejected?", true),
    },
    REOPEN: { label: "Reopen", mutation: "reopenPurchaseOrder" },
    CANCEL: {
      label: "Cancel\u2026", mutation: "cancelPurchaseOrder", input: "OptionalReasonInput",
      ask: reasonOnly("Why is the purchase order cancelled? (optional)", false),
    },
    START_PROVISIONING: { label: "Start provisioning", mutation: "startPurchaseOrderProvisioning" },
    MARK_READY: { label: "Mark ready", mutation: "markPurchaseOrderReady" },
    SHIP: {
      label: "Ship\u2026", mutation: "shipPurchaseOrder", input: "ShipPurchaseOrderInput",
      ask: function () {
        var carrier = window.prompt("Carrier", "");
        if (!carrier || !carrier.trim()) return null;
        var tracking = window.prompt("Tracking number", "");
        if (!tracking || !tracking.trim()) return null;
        return { carrier: carrier.trim(), trackingNumber: tracking.trim() };
      },
    },
    CONFIRM_RECEIPT: { label: "Confirm receipt", mutation: "confirmPurchaseOrderReceipt" },
  };
  var HINTS = {
    UPDATE: "Edit the draft through the API (updatePurchaseOrder), e.g. in GraphiQL.",
    ASSIGN_SIMS: "Assign SIMs through the API (assignPurchaseOrderSims) or a warehouse dispatch.",
  };

  var statusLine = document.getElementById("status");
  var connection = document.getElementById("connection");
  var noteInput = document.getElementById("note");
  var root = document.getElementById("po");

  var token = readToken();
  var po = null; // the PO as last fetched
  var cursor = null; // the last event seen, for resuming
  var busy = false; // a mutation is running

  function readToken() {
    var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var value = (fragment.get("token") || "").trim();
    if (value) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
      try { window.sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode */ }
      return value;
    }
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  // --- DOM helpers: text only ---------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] !== null && attrs[name] !== undefined) node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
    });
    return node;
  }

  function show(value) { return value === null || value === undefined || value === "" ? "\u2014" : value; }
  function money(m) { return m ? m.amount + " " + m.currency : "\u2014"; }
  function when(t) { return t ? String(t).replace("T", " ").replace(/\.\d+/, "") : "\u2014"; }

  function table(id, headings, rows) {
    return el("table", { id: id }, [
      el("thead", {}, [el("tr", {}, headings.map(function (h) { return el("th", {}, [h]); }))]),
      el("tbody", {}, rows.map(function (cells) {
        return el("tr", {}, cells.map(function (c) { return el("td", {}, [show(c)]); }));
      })),
    ]);
  }

  function facts(pairs) {
    var list = el("dl", {});
    pairs.forEach(function (pair) {
      list.appendChild(el("dt", {}, [pair[0]]));
      list.appendChild(el("dd", pair[2] || {}, [show(pair[1])]));
    });
    return list;
  }

  function setStatus(text, code) {
    statusLine.textContent = text || "";
    statusLine.setAttribute("data-kind", code ? "error" : "info");
    if (code) statusLine.setAttribute("data-code", code);
    else statusLine.removeAttribute("data-code");
  }

  function setConnection(state, text) {
    connection.setAttribute("data-state", state);
    connection.textContent = text;
  }

  function errorCode(errors) {
    var ext = (errors && errors[0] && errors[0].extensions) || {};
    return ext.code || "ERROR";
  }

  function describe(errors) {
    return errors.map(function (e) {
      var ext = e.extensions || {};
      var fields = (ext.fields || []).map(function (f) { return f.field + ": " + f.message; });
      return (ext.code || "ERROR") + ": " + e.message + (fields.length ? " (" + fields.join("; ") + ")" : "");
    }).join(" | ");
  }

  // --- rendering ----------------------------------------------------------------------

  function render() {
    var title = po.number === null ? "Purchase order (no number yet)" : "Purchase order " + po.number;
    var address = po.shippingAddress;
    var lines = po.lines.map(function (line) {
      var shown = line.sims.slice(0, SIMS_SHOWN).map(function (s) { return s.iccid; }).join(", ");
      if (line.sims.length > SIMS_SHOWN) shown += " \u2026 and " + (line.sims.length - SIMS_SHOWN) + " more";
      return [line.product.code + " \u2014 " + line.product.name, line.quantity, money(line.unitPrice),
        line.assignedSimCount + " / " + line.quantity, shown];
    });
    var orders = po.salesOrders.map(function (so) {
      var d = so.dispatch;
      return [so.warehouse.code + " \u2014 " + so.warehouse.name, so.status, so.error,
        d ? d.carrier + " " + d.trackingNumber + " at " + when(d.dispatchedAt) : null];
    });
    var history = po.statusHistory.map(function (h) {
      var so = h.salesOrderStatus ? "sales order" + (h.salesOrder ? " " + h.salesOrder.warehouse.code : "") + ": " + h.salesOrderStatus : null;
      return [when(h.occurredAt), h.fromStatus, h.toStatus, so, h.actor, h.note];
    });
    root.replaceChildren(
      el("h2", {}, [title]),
      facts([
        ["Status", po.status, { id: "po-status" }],
        ["Version", po.version, { id: "po-version" }],
        ["Account", po.account.code + " \u2014 " + po.account.name],
        ["Total", money(po.total)],
        ["Requested ship date", po.requestedShipDate],
        ["Rejection reason", po.rejectionReason],
        ["Created", po.createdBy + " at " + when(po.createdAt)],
        ["Updated", when(po.updatedAt)],
      ]),
      el("h3", {}, ["Actions"]),
      renderActions(),
      el("h3", {}, ["Lines"]),
      table("lines", ["Product", "Quantity", "Unit price", "SIMs assigned", "SIMs (ICCID)"], lines),
      el("h3", {}, ["Shipping"]),
      facts([
        ["Address", address ? [address.recipient, address.company].concat(address.street,
          [address.postalCode + " " + address.city, address.region, address.country, address.phone])
          .filter(Boolean).join(", ") : null],
        ["Shipment", po.shipping ? po.shipping.carrier + " " + po.shipping.trackingNumber +
          " at " + when(po.shipping.shippedAt) : null],
      ]),
      el("h3", {}, ["Fulfilment"]),
      orders.length ? table("sales-orders", ["Warehouse", "Status", "Error", "Dispatch"], orders)
        : el("p", { id: "sales-orders" }, ["No sales orders yet."]),
      el("h3", {}, ["History"]),
      table("history", ["When", "From", "To", "Sales order", "Actor", "Note"], history)
    );
  }

  function renderActions() {
    var box = el("div", { id: "actions" });
    po.availableActions.forEach(function (action) {
      var spec = ACTIONS[action];
      var button = el("button", { type: "button", "data-action": action, title: HINTS[action] || null },
        [spec ? spec.label : action.charAt(0) + action.slice(1).toLowerCase().replace(/_/g, " ")]);
      if (spec && !busy) button.addEventListener("click", function () { perform(action); });
      else button.disabled = true;
      box.appendChild(button);
    });
    if (!po.availableActions.length) box.appendChild(el("p", {}, ["Nothing you may do now."]));
    var hints = po.availableActions.filter(function (a) { return HINTS[a]; });
    if (hints.length) box.appendChild(el("p", { class: "hint" }, [hints.map(function (a) { return HINTS[a]; }).join(" ")]));
    return box;
  }

  // --- GraphQL over HTTP --------------------------------------------------------------

  function graphql(query, variables) {
    return fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json",
        Authorization: "Bearer " + token },
      body: JSON.stringify({ query: query, variables: variables }),
      credentials: "omit", cache: "no-store",
    }).then(function (response) {
      return response.json().catch(function () {
        return { errors: [{ message: "HTTP " + response.status, extensions: { code: "HTTP_ERROR" } }] };
      });
    }, function (error) {
      return { errors: [{ message: String(error), extensions: { code: "NETWORK_ERROR" } }] };
    });
  }

  var loading = null;
  var again = false;
  var failure = null; // the error code of the last fetch, if it failed

  // Fetch and render the PO; calls during a fetch coalesce into one more fetch after it.
  // Resolves to the error code when the fetch failed, else null.
  function refresh() {
    if (loading) { again = true; return loading; }
    loading = (async function () {
      do {
        again = false;
        var body = await graphql(PO_QUERY, { id: PO_ID });
        failure = null;
        if (body.errors && body.errors.length) {
          failure = errorCode(body.errors);
          setStatus(describe(body.errors), failure);
        } else if (!body.data || !body.data.purchaseOrder) {
          failure = "NOT_FOUND";
          setStatus("NOT_FOUND: no purchase order with this id is visible to this token", failure);
          root.replaceChildren(el("p", {}, ["Not found."]));
        } else { po = body.data.purchaseOrder; render(); }
      } while (again);
      return failure;
    })().finally(function () { loading = null; });
    return loading;
  }

  async function perform(action) {
    var spec = ACTIONS[action];
    var extra = {};
    if (spec.ask) { extra = spec.ask(); if (extra === null) return; }
    else if (noteInput.value.trim()) extra.note = noteInput.value.trim();
    var input = Object.assign({ id: po.id, expectedVersion: po.version }, extra);
    var mutation = "mutation DemoAction($input: " + (spec.input || "TransitionInput") + "!) { " +
      spec.mutation + "(input: $input) { purchaseOrder { id status version } } }";
    busy = true; render();
    setStatus(spec.label.replace("\u2026", "") + "\u2026");
    var body = await graphql(mutation, { input: input });
    busy = false;
    if (body.errors && body.errors.length) setStatus(describe(body.errors), errorCode(body.errors));
    else {
      var changed = body.data && body.data[spec.mutation] && body.data[spec.mutation].purchaseOrder;
      setStatus(spec.label.replace("\u2026", "") + ": done" + (changed ? ", now " + changed.status : ""));
      if (!spec.ask) noteInput.value = "";
    }
    await refresh();
  }

  // --- live updates over graphql-transport-ws ----------------------------------------

  var socket = null;
  var attempt = 0;

  function connect() {
    var url = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + ENDPOINT;
    var ws = new WebSocket(url, "graphql-transport-ws");
    var openedAt = 0;
    var stop = false;
    socket = ws;
    setConnection("connecting", attempt ? "reconnecting\u2026" : "connecting\u2026");
    function send(message) { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)); }
    ws.onopen = function () {
      openedAt = Date.now();
      send({ type: "connection_init", payload: { authorization: "Bearer " + token } });
    };
    ws.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "connection_ack") {
        setConnection("live", "live");
        send({ id: "po", type: "subscribe", payload: { query: SUBSCRIPTION,
          variables: { id: PO_ID, after: cursor } } });
        refresh(); // whatever changed before the subscription started
      } else if (message.type === "ping") {
        send({ type: "pong", payload: message.payload });
      } else if (message.type === "next") {
        var payload = message.payload || {};
        var change = payload.data && payload.data.purchaseOrderStatusChanged;
        if (payload.errors && payload.errors.length) setStatus(describe(payload.errors), errorCode(payload.errors));
        if (change) {
          attempt = 0;
          cursor = change.cursor;
          connection.textContent = "live: " + (change.salesOrderStatus
            ? "sales order " + change.salesOrderStatus : change.toStatus) + " by " + change.actor;
          refresh();
        }
      } else if (message.type === "error") {
        var code = errorCode(message.payload);
        setStatus("subscription: " + describe(message.payload), code);
        if (code === "BAD_USER_INPUT" && cursor) cursor = null; // an unusable cursor: afresh
        else stop = FINAL.indexOf(code) >= 0;
        ws.close(1000);
      } else if (message.type === "complete") {
        ws.close(1000); // the server ended it (e.g. a slow consumer): resume from the cursor
      }
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      if (openedAt && Date.now() - openedAt > 10000) attempt = 0;
      if (stop || event.code === 4403 || event.code === 4401) {
        setConnection("offline", "not connected");
        if (event.code === 4403) {
          setStatus("UNAUTHENTICATED: the server refused the token; open the page with a fresh #token=",
            "UNAUTHENTICATED");
        }
        return;
      }
      var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
      delay = Math.round(delay * (0.5 + Math.random() / 2));
      attempt += 1;
      setConnection("offline", "disconnected; reconnecting in " + Math.ceil(delay / 1000) + " s");
      window.setTimeout(connect, delay);
    };
  }

  if (!PO_ID) {
    setStatus("no purchase order id in the page", "BAD_USER_INPUT");
  } else if (!token) {
    setStatus("No token: open this page as /demo/po/<id>#token=<JWT> (simgql serve --demo prints one).",
      "UNAUTHENTICATED");
    root.replaceChildren(el("p", {}, ["No token given."]));
  } else {
    refresh().then(function (code) {
      if (FINAL.indexOf(code) < 0) connect(); // else there is nothing to follow
    });
  }

  // A new #token=... typed into the address bar: start again with it.
  window.addEventListener("hashchange", function () {
    if (new URLSearchParams(window.location.hash.replace(/^#/, "")).get("token")) {
      readToken();
      window.location.reload();
    }
  });
})();
