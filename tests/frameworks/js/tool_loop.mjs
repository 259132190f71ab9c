// One Vercel AI SDK conversation through the gateway, run by tests/frameworks/test_vercel_ai_sdk.py:
// two user turns, each a tool loop (the model calls get_weather, the SDK runs it and sends the
// result back) with reasoning on. Prints the turns as JSON on stdout.
//
// usage: node tool_loop.mjs '{"url": ..., "key": ..., "client": "openai-chat" | "openai-responses" |
//                              "anthropic" | "google", "model": ..., "stream": true | false}'
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const { url, key, client, model, stream } = JSON.parse(process.argv[2]);

// the Responses input item types of each request the client sent (item_reference from turn 2 on)
const sent = [];
async function recordingFetch(input, init) {
  const body = JSON.parse(init.body);
  if (Array.isArray(body.input)) {
    sent.push(body.input.map((item) => item.type ?? "message"));
  }
  return fetch(input, init);
}

const options = { apiKey: key, fetch: recordingFetch };
const clients = {
  "openai-chat": () => createOpenAI({ baseURL: `${url}/v1`, ...options }).chat(model),
  "openai-responses": () => createOpenAI({ baseURL: `${url}/v1`, ...options })(model),
  anthropic: () => createAnthropic({ baseURL: `${url}/v1`, ...options })(model),
  google: () => createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, ...options })(model),
};

const providerOptions = {
  openai: { reasoningEffort: "low", reasoningSummary: "auto" },
  anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } },
  google: { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } },
};

const warnings = [];
globalThis.AI_SDK_LOG_WARNINGS = ({ warnings: more }) => warnings.push(...more);

const calls = [];
const tools = {
  get_weather: tool({
    description: "Weather for a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return `sunny in ${city}`;
    },
  }),
};

async function turn(messages) {
  const request = {
    model: clients[client](),
    messages,
    tools,
    providerOptions,
    maxOutputTokens: 2048,
    stopWhen: stepCountIs(5),
    maxRetries: 0,
  };
  if (!stream) {
    return generateText(request);
  }
  const errors = [];
  const result = streamText({ ...request, onError: ({ error }) => errors.push(error) });
  const kinds = new Set();
  for await (const part of result.fullStream) {
    kinds.add(part.type);
  }
  if (errors.length) {
    throw errors[0];
  }
  return {
    text: await result.text,
    steps: await result.steps,
    response: await result.response,
    totalUsage: await result.totalUsage,
    kinds: [...kinds],
  };
}

const messages = [{ role: "user", content: "Weather in two cities, one at a time" }];
const turns = [];
try {
  for (const question of ["Weather in two cities, one at a time", "And tomorrow?"]) {
    if (turns.length) {
      messages.push({ role: "user", content: question });
    }
    const before = calls.length;
    const result = await turn(messages);
    messages.push(...result.response.messages);
    turns.push({
      text: result.text,
      steps: result.steps.map((s) => s.finishReason),
      reasoning: result.steps.flatMap((s) => s.reasoning ?? []).map((r) => r.text),
      tool_calls: calls.slice(before),
      usage: result.totalUsage,
      kinds: result.kinds ?? [],
    });
  }
  console.log(JSON.stringify({ turns, warnings, sent }));
} catch (error) {
  console.log(JSON.stringify({ turns, warnings, sent, error: String(error), body: error?.responseBody ?? null }));
}
