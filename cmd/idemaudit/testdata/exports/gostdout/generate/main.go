// Command generate writes the gostdout fixtures: a Go billing agent's run
// traced with the OpenTelemetry Go SDK and printed by its stdouttrace
// exporter (a module of its own, so idemaudit does not depend on them):
//
//	go run . -pretty > ../billing-agent-pretty.log
//	go run . -twice > ../billing-agent-two-exporters.log
//
// Trace and span ids are the SDK's random ones: another run gives other
// ids, the same lines.
package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	pretty := flag.Bool("pretty", false, "WithPrettyPrint")
	twice := flag.Bool("twice", false, "a second stdout exporter on a batcher")
	flag.Parse()
	loc, _ := time.LoadLocation("Europe/Berlin")
	t0 := time.Date(2026, 3, 10, 10, 14, 2, 104518000, loc)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	var opts []stdouttrace.Option
	if *pretty {
		opts = append(opts, stdouttrace.WithPrettyPrint())
	}
	exp, _ := stdouttrace.New(opts...)
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "billing-agent"), attribute.String("service.version", "0.4.1"),
		attribute.String("telemetry.sdk.language", "go"), attribute.String("telemetry.sdk.name", "opentelemetry"),
		attribute.String("telemetry.sdk.version", "1.47.0"))
	popts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSyncer(exp)}
	if *twice {
		exp2, _ := stdouttrace.New(opts...)
		popts = append(popts, sdktrace.WithBatcher(exp2))
	}
	tp := sdktrace.NewTracerProvider(popts...)
	tr := tp.Tracer("github.com/acme/billing-agent/internal/agent", trace.WithInstrumentationVersion("0.4.1"))
	htr := tp.Tracer("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", trace.WithInstrumentationVersion("0.62.0"))
	conv := attribute.String("gen_ai.conversation.id", "conv_7Hq2mZ")
	ctx := context.Background()

	actx, agent := tr.Start(ctx, "invoke_agent billing-agent", trace.WithTimestamp(at(0)),
		trace.WithAttributes(attribute.String("gen_ai.operation.name", "invoke_agent"), attribute.String("gen_ai.agent.name", "billing-agent"), conv))
	chat := func(from, to int, in, out int64) {
		_, s := tr.Start(actx, "chat gpt-4o", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(from)),
			trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat"), attribute.String("gen_ai.provider.name", "openai"),
				attribute.String("gen_ai.request.model", "gpt-4o"), attribute.Int64("gen_ai.usage.input_tokens", in),
				attribute.Int64("gen_ai.usage.output_tokens", out), attribute.StringSlice("gen_ai.response.finish_reasons", []string{"tool_calls"})))
		s.End(trace.WithTimestamp(at(to)))
	}
	tool := func(from, to int, name, callID, args, result string, err error, post func(context.Context)) {
		tctx, s := tr.Start(actx, "execute_tool "+name, trace.WithTimestamp(at(from)),
			trace.WithAttributes(attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", name),
				attribute.String("gen_ai.tool.type", "function"), attribute.String("gen_ai.tool.call.id", callID),
				attribute.String("gen_ai.tool.call.arguments", args), conv))
		if post != nil {
			post(tctx)
		}
		if err != nil {
			s.RecordError(err, trace.WithTimestamp(at(to)))
			s.SetStatus(codes.Error, err.Error())
		} else {
			s.SetAttributes(attribute.String("gen_ai.tool.call.result", result))
		}
		s.End(trace.WithTimestamp(at(to)))
	}
	httpPost := func(from, to int, url string, code int, err error) func(context.Context) {
		return func(c context.Context) {
			_, s := htr.Start(c, "POST", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(from)),
				trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("url.full", url),
					attribute.String("server.address", "api.stripe.com"), attribute.Int("server.port", 443)))
			if err != nil {
				s.SetAttributes(attribute.String("error.type", "context deadline exceeded"))
				s.RecordError(err, trace.WithTimestamp(at(to)))
				s.SetStatus(codes.Error, err.Error())
			} else {
				s.SetAttributes(attribute.Int("http.response.status_code", code))
			}
			s.End(trace.WithTimestamp(at(to)))
		}
	}

	chat(12, 1480, 912, 41)
	tool(1495, 1530, "get_customer", "call_pL4cV8eR1tZ0", `{"customer":"cus_Q8mT2"}`,
		`{"id":"cus_Q8mT2","email":"ana@example.com","plan":"pro"}`, nil, nil)
	chat(1540, 2210, 1010, 57)
	timeout := errors.New(`Post "https://api.stripe.com/v1/charges": context deadline exceeded`)
	charge := `{"customer":"cus_Q8mT2","amount":4200,"currency":"usd","description":"March plan"}`
	tool(2220, 12240, "charge_card", "call_Xq3aL0r1mD7vT2", charge, "", timeout,
		httpPost(2231, 12230, "https://api.stripe.com/v1/charges", 0, timeout))
	tool(13250, 14105, "charge_card", "call_Xq3aL0r1mD7vT2", charge, `{"id":"ch_3QmT2aLk8Zx1","status":"succeeded","amount":4200}`, nil,
		httpPost(13262, 14090, "https://api.stripe.com/v1/charges", 200, nil))
	chat(14120, 14890, 1190, 63)
	inv := `{"customer":"cus_Q8mT2","amount":4200,"currency":"usd","idempotency_key":"inv-cus_Q8mT2-2026-03"}`
	tool(14900, 15320, "create_invoice", "call_Rk2pW9s4hN1cE6", inv, `{"id":"in_1QmT3bF2","status":"open"}`, nil, nil)
	chat(15330, 15960, 1260, 44)
	tool(15970, 16410, "create_invoice", "call_Vb7nJ3u8yG5dQ0", inv, `{"id":"in_1QmT3cK9","status":"open"}`, nil, nil)
	chat(16420, 17130, 1330, 88)
	agent.End(trace.WithTimestamp(at(17140)))
	_ = tp.Shutdown(ctx)
}
