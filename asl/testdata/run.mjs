// Runs plagiarism.asl.json with aws-local-stepfunctions for asl_test.go, every Task
// state answered from a script instead of a Lambda:
//
//   node_modules/.bin/node asl/testdata/run.mjs SCENARIOS.json
//
// SCENARIOS.json: {"definitionFile": PATH, "scenarios": [{"input": ANY, "answers":
// {STATE: [ANSWER, ...]}}, ...]}, ANSWER {"output": ANY} or {"error": NAME, "cause": TEXT},
// consumed in order by the state's invocations; a state with no answer left fails with
// Script.Exhausted. An output is wrapped as lambda:invoke returns it ({"Payload": output})
// except for the .waitForTaskToken state, whose result is the callback's output itself.
// Retry waits are overridden to 0 ms. The scenarios share one Node process (its start
// is most of the time).
//
// stdout, a JSON array with one object per scenario: {"status": "SUCCEEDED"|"FAILED",
// "output"|"error"+"cause", "calls": [{"state": STATE, "payload": PAYLOAD}, ...]}.
import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';

const { definitionFile, scenarios } = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const definition = JSON.parse(readFileSync(definitionFile, 'utf8'));
const machine = new StateMachine(definition);

class TaskError extends Error {
  constructor(name, cause) {
    super(cause ?? '');
    this.name = name;
  }
}

async function runScenario(scenario) {
  const calls = [];
  const taskResourceLocalHandlers = {};
  const retryIntervalOverrides = {};
  for (const [state, def] of Object.entries(definition.States)) {
    if (def.Type !== 'Task') continue;
    retryIntervalOverrides[state] = 0;
    const answers = [...(scenario.answers[state] ?? [])];
    taskResourceLocalHandlers[state] = async (parameters) => {
      calls.push({ state, payload: parameters.Payload });
      const answer = answers.shift();
      if (answer === undefined) throw new TaskError('Script.Exhausted', `no answer left for ${state}`);
      if (answer.error !== undefined) throw new TaskError(answer.error, answer.cause);
      return def.Resource.endsWith('.waitForTaskToken') ? answer.output : { Payload: answer.output, StatusCode: 200 };
    };
  }
  const run = machine.run(scenario.input, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides },
    context: { Task: { Token: 'token' } },
  });
  try {
    return { status: 'SUCCEEDED', output: await run.result, calls };
  } catch (err) {
    const inner = err.cause instanceof Error ? err.cause : err;
    return { status: 'FAILED', error: inner.name, cause: inner.message, calls };
  }
}

const results = [];
for (const scenario of scenarios) results.push(await runScenario(scenario));
process.stdout.write(JSON.stringify(results) + '\n');
