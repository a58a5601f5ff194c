#!/usr/bin/env python3
"""Writes the trace-export samples in sample-logs/traces/ (one per format).

Each was written for idemaudit, after the formats' documentation; each holds
planted duplicate side effects, a telemetry duplicate (a record exported
twice), read-only tools and records that are no tool call. Run from the
repository root: python3 scripts/trace-samples.py
"""
import json
from datetime import datetime, timedelta, timezone

OUT = "sample-logs/traces/"
T0 = datetime(2026, 11, 18, 9, 14, 2, 120000, tzinfo=timezone.utc)


def ns(t):
    return str(int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000)


def iso(t):
    return t.isoformat().replace("+00:00", "Z")


# ---- OpenTelemetry: the Collector's file exporter (one TracesData a line)
def attr(k, v):
    if isinstance(v, bool):
        return {"key": k, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": str(v)}}
    if isinstance(v, float):
        return {"key": k, "value": {"doubleValue": v}}
    if isinstance(v, list):
        return {"key": k, "value": {"arrayValue": {"values": [attr("", x)["value"] for x in v]}}}
    return {"key": k, "value": {"stringValue": v}}


def span(trace, sid, parent, name, start, secs, attrs, error=None):
    s = {"traceId": trace, "spanId": sid, "parentSpanId": parent, "name": name, "kind": 1,
         "startTimeUnixNano": ns(start), "endTimeUnixNano": ns(start + timedelta(seconds=secs)),
         "attributes": [attr(k, v) for k, v in attrs.items()], "status": {}}
    if error:
        s["status"] = {"code": 2, "message": error}
    return s


def traces_data(spans):
    return {"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", "billing-agent"), attr("service.version", "1.8.2")]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai_agents", "version": "0.3.1"},
                        "spans": spans}]}]}


def tool(name, args, result=None, conv="conv-7f2c"):
    a = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name,
         "gen_ai.tool.call.id": "call_" + name + str(abs(hash(json.dumps(args, sort_keys=True))) % 10**6),
         "gen_ai.conversation.id": conv}
    if args is not None:
        a["gen_ai.tool.call.arguments"] = args if isinstance(args, str) else json.dumps(args)
    if result is not None:
        a["gen_ai.tool.call.result"] = json.dumps(result)
    return a


TA, TB, TC = "5b8aa5a2d2c872e8321cf37308d69df2", "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"
t = T0
line1 = traces_data([
    span(TA, "051581bf3cb55c13", "", "chat gpt-4.1", t, 1.4, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4.1",
                                                            "gen_ai.usage.input_tokens": 812}),
    span(TA, "5fb397be34d26b51", "051581bf3cb55c13", "execute_tool get_customer", t + timedelta(seconds=2), 0.21,
         tool("get_customer", {"customer": "cus_Q42"}, {"id": "cus_Q42", "email": "ana@example.com"})),
    # the charge times out on the client after 30 s ...
    span(TA, "a2fb4a1d1a96d312", "051581bf3cb55c13", "execute_tool charge_card", t + timedelta(seconds=3), 30.0,
         dict(tool("charge_card", {"customer": "cus_Q42", "amount": 2000, "currency": "usd", "description": "Order #1001"}),
              **{"error.type": "timeout"}), error="deadline exceeded"),
])
# ... and the agent retries it: same arguments (another key order), no key
retry = span(TA, "c7ad6b7169203331", "051581bf3cb55c13", "execute_tool charge_card", t + timedelta(seconds=34), 1.2,
             tool("charge_card", '{"amount": 2000, "currency": "usd", "customer": "cus_Q42", "description": "Order #1001"}',
                  {"id": "ch_3Pq2Lk", "status": "succeeded", "amount": 2000}))
line2 = traces_data([retry])
t = T0 + timedelta(minutes=41)
# an invoice created twice under one key: the downstream did not dedupe
inv = {"customer": "cus_Q42", "amount": 2000, "idempotency_key": "inv-2026-1118-cus_Q42"}
line3 = traces_data([
    span(TB, "b7ad6b7169203331", "", "execute_tool create_invoice", t, 0.8, tool("create_invoice", inv, {"id": "in_1Nv8", "status": "open"})),
    span(TB, "e457b5a2e4d86bd1", "", "execute_tool create_invoice", t + timedelta(seconds=6), 0.7,
         tool("create_invoice", inv, {"id": "in_1Nv9", "status": "open"})),
])
# an MCP server's span: arguments as attributes, the key in one of them
t = T0 + timedelta(minutes=55)
mcp = {"mcp.method.name": "tools/call", "gen_ai.tool.name": "send_sms", "mcp.session.id": "mcp-3c1d",
       "mcp.request.argument.to": "+15550100", "mcp.request.argument.body": "Your order #1001 has shipped",
       "mcp.request.argument.idempotency_key": "sms-1001-shipped", "gen_ai.tool.call.result": json.dumps({"id": "SM81c2"})}
line4 = traces_data([span(TC, "00f067aa0ba902b7", "", "tools/call send_sms", t, 0.4, mcp),
                     span(TC, "1a2b3c4d5e6f7081", "", "tools/call send_sms", t + timedelta(seconds=9), 0.3,
                          dict(mcp, **{"gen_ai.tool.call.result": json.dumps({"id": "SM81c2"})}))])
with open(OUT + "otlp-collector.jsonl", "w") as f:
    for d in (line1, line2, line2, line3, line4):  # line 2 exported twice: the exporter retried
        f.write(json.dumps(d, separators=(",", ":")) + "\n")

# ---- Langfuse: observations from the public API (v2), one JSON page
t = T0 + timedelta(hours=2)
meeting = {"title": "Quarterly review", "attendees": ["ana@example.com", "bo@example.com"], "start": "2026-11-19T15:00:00Z", "minutes": 45}


def obs(oid, typ, name, start, secs, inp=None, out=None, level="DEFAULT", meta=None, trace="lf-trace-91"):
    return {"id": oid, "traceId": trace, "type": typ, "name": name, "startTime": iso(start), "endTime": iso(start + timedelta(seconds=secs)),
            "parentObservationId": None, "level": level, "statusMessage": None if level == "DEFAULT" else "upstream said no",
            "input": inp, "output": out, "metadata": meta or {}, "model": "gpt-4.1" if typ == "GENERATION" else None}


observations = [
    obs("2f1c0d8e-gen-1", "GENERATION", "plan", t, 2.1, [{"role": "user", "content": "Book the quarterly review with Bo"}], "I'll check calendars."),
    obs("2f1c0d8e-tool-1", "TOOL", "search_calendar", t + timedelta(seconds=3), 0.5, {"who": ["ana@example.com", "bo@example.com"]}, {"free": ["2026-11-19T15:00:00Z"]}),
    # two branches of the plan both book the meeting, overlapping in time
    obs("2f1c0d8e-tool-2", "TOOL", "book_meeting", t + timedelta(seconds=4), 4.2, meeting, {"id": "evt_81", "status": "confirmed"}),
    obs("2f1c0d8e-tool-3", "TOOL", "book_meeting", t + timedelta(seconds=5.5), 3.5,
        json.dumps(dict(reversed(list(meeting.items())))), json.dumps({"id": "evt_82", "status": "confirmed"})),
    # an invitation the downstream rejected (422), then sent once fixed
    obs("2f1c0d8e-tool-4", "TOOL", "send_invite", t + timedelta(seconds=10), 0.3, {"event": "evt_81", "to": "bo@example"}, {"error": "invalid address"},
        level="ERROR", meta={"http.response.status_code": 422}),
    obs("2f1c0d8e-tool-5", "TOOL", "send_invite", t + timedelta(seconds=12), 0.3, {"event": "evt_81", "to": "bo@example"}, {"id": "inv_55"}),
]
observations.insert(4, dict(observations[2]))  # the same observation twice (an ingestion retry)
with open(OUT + "langfuse-observations.json", "w") as f:
    json.dump({"data": observations, "meta": {"page": 1, "limit": 50, "totalItems": len(observations), "totalPages": 1}}, f, indent=2)
    f.write("\n")

# ---- LangSmith: runs export, JSON Lines; LangChain tool inputs as Python reprs
t = T0 + timedelta(hours=4)


def run(rid, trace, rtype, name, start, secs, inputs, outputs, status="success", thread="thread-ana-1001", error=None):
    return {"id": rid, "trace_id": trace, "parent_run_id": trace if rid != trace else None, "run_type": rtype, "name": name,
            "start_time": (start).strftime("%Y-%m-%dT%H:%M:%S.%f"), "end_time": (start + timedelta(seconds=secs)).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "inputs": inputs, "outputs": outputs, "status": status, "error": error, "session_id": "6f1e2a64-proj-support",
            "extra": {"metadata": {"thread_id": thread, "ls_run_depth": 1}}, "tags": []}


T1, T2 = "1e0c5a3e-0000-4000-8000-00000000aa01", "1e0c5a3e-0000-4000-8000-00000000aa02"
email = "{'to': 'ana@example.com', 'subject': 'Your refund of $20.00', 'order': 'ord_1001', 'idempotency_key': '%s'}"
runs = [
    run(T1, T1, "chain", "support_agent", t, 5, {"messages": ["where is my refund?"]}, None),
    run("1e0c5a3e-0000-4000-8000-0000000000b1", T1, "llm", "ChatOpenAI", t, 1.1, {"messages": []}, {"generations": []}),
    run("1e0c5a3e-0000-4000-8000-0000000000b2", T1, "tool", "lookup_order", t + timedelta(seconds=1.5), 0.2, {"input": "ord_1001"},
        {"output": "{'id': 'ord_1001', 'state': 'refunded'}"}),
    run("1e0c5a3e-0000-4000-8000-0000000000b3", T1, "tool", "send_email", t + timedelta(seconds=2), 0.9,
        {"input": email % "email-7f3a"}, {"output": "{'id': 'msg_01HZ', 'status': 'sent'}"}),
    # the worker crashed before the run was recorded as done; the replay
    # sends the email again under a fresh key
    run(T2, T2, "chain", "support_agent", t + timedelta(seconds=95), 4, {"messages": ["where is my refund?"]}, None),
    run("1e0c5a3e-0000-4000-8000-0000000000c3", T2, "tool", "send_email", t + timedelta(seconds=97), 0.8,
        {"input": email % "email-91bc"}, {"output": "{'id': 'msg_01J0', 'status': 'sent'}"}),
    # a ticket created twice under one key, answered with the same id: deduped, fine
    run("1e0c5a3e-0000-4000-8000-0000000000b4", T1, "tool", "create_ticket", t + timedelta(seconds=3), 0.4,
        {"input": '{"order": "ord_1001", "idempotency_key": "tk-1001"}'}, {"output": '{"id": "tk_88"}'}),
    run("1e0c5a3e-0000-4000-8000-0000000000c4", T2, "tool", "create_ticket", t + timedelta(seconds=98), 0.4,
        {"input": '{"order": "ord_1001", "idempotency_key": "tk-1001"}'}, {"output": '{"id": "tk_88"}'}),
]
runs.append(dict(runs[5]))  # the replayed email's run exported twice
with open(OUT + "langsmith-runs.jsonl", "w") as f:
    for r in runs:
        f.write(json.dumps(r) + "\n")

# ---- OpenAI Agents SDK: trace and span exports, one per line
t = T0 + timedelta(hours=6)
TR = "trace_4f0e9c1d2b3a49a8b7c6d5e4f3a2b1c0"


def sp(sid, typ, start, secs, name=None, inp=None, out=None, error=None, parent=None):
    data = {"type": typ}
    if typ == "function":
        data.update({"name": name, "input": inp, "output": out, "mcp_data": None})
    elif typ == "response":
        data.update({"response_id": "resp_" + sid[-6:]})
    return {"object": "trace.span", "id": sid, "trace_id": TR, "parent_id": parent, "started_at": iso(start),
            "ended_at": iso(start + timedelta(seconds=secs)), "span_data": data, "error": error}


refund = json.dumps({"order_id": "ord_2002", "amount": 4599, "reason": "damaged"})
spans = [
    {"object": "trace", "id": TR, "workflow_name": "Refund agent", "group_id": "conv_77", "metadata": None},
    sp("span_a1c2e3f4a5b6c7d8e9f0a1b2", "response", t, 1.8),
    sp("span_b1c2e3f4a5b6c7d8e9f0a1b2", "function", t + timedelta(seconds=2), 0.3, "fetch_order", '{"order_id": "ord_2002"}',
       '{"id": "ord_2002", "total": 4599}'),
    # three refunds of one order: two 504s (the gateway timed out, the
    # refunds went through) and a success
    sp("span_c1c2e3f4a5b6c7d8e9f0a1b2", "function", t + timedelta(seconds=3), 29.9, "refund_order", refund, None,
       error={"message": "Error running tool refund_order: 504 Gateway Timeout", "data": {"status": 504}}),
    sp("span_d1c2e3f4a5b6c7d8e9f0a1b2", "function", t + timedelta(seconds=35), 30.0, "refund_order", refund, None,
       error={"message": "Error running tool refund_order: 504 Gateway Timeout", "data": {"status": 504}}),
    sp("span_e1c2e3f4a5b6c7d8e9f0a1b2", "function", t + timedelta(seconds=68), 0.9, "refund_order", refund,
       '{"id": "re_3QxT", "status": "succeeded"}'),
]
spans.append(dict(spans[-1]))  # exported twice
with open(OUT + "openai-agents-spans.jsonl", "w") as f:
    for s in spans:
        f.write(json.dumps(s) + "\n")
