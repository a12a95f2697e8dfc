// Runs the project's state machine definitions with aws-local-stepfunctions for the
// end-to-end harness (e2e/*_test.go), which starts this driver with the project's Node 22:
//
//   node_modules/.bin/node e2e/driver.mjs CONFIG.json
//
// CONFIG.json: {"harness": "http://127.0.0.1:PORT", "retryIntervalMs": N, "machines": {NAME:
// {"arn": ARN, "definitionFile": PATH}}}. Definitions arrive as the synthesized template has
// them, with their DefinitionSubstitutions filled in as CloudFormation would. Every Retry
// waits retryIntervalMs instead of its interval (the interpreter's retryIntervalOverrides).
//
// stdin, one JSON object a line: {"machine": NAME, "name": EXECUTION_NAME, "input": ANY}
// starts an execution. End of stdin aborts running executions and exits.
// stdout, one JSON object a line: {"ready": true} once every definition has loaded;
// {"execution": EXECUTION_ARN, "event": EVENT} for each interpreter event; then
// {"execution": EXECUTION_ARN, "status": "SUCCEEDED"|"FAILED"|"TIMED_OUT"|"ABORTED",
// "output"|"error"+"cause"}.
//
// Every Task state is overridden to POST its resource and resolved Parameters to the
// harness (/task), which invokes the function through the Lambda Runtime Interface
// Emulator and, for .waitForTaskToken, holds the answer until SendTaskSuccess /
// SendTaskFailure reaches the harness's Step Functions endpoint. The interpreter has no
// task tokens, so $$.Task.Token is a context getter that mints a fresh random token each
// time a state's Parameters read it; the harness accepts only tokens it was handed.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { StateMachine } from 'aws-local-stepfunctions';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// TaskError carries a task failure the way Step Functions names it, so that the
// definition's Retry and Catch match on it (the interpreter compares error.name).
class TaskError extends Error {
  constructor(name, cause) {
    super(cause ?? '');
    this.name = name;
  }
}

const machines = {};
for (const [name, m] of Object.entries(config.machines)) {
  const definition = JSON.parse(readFileSync(m.definitionFile, 'utf8'));
  // The constructor validates the definition (ARNs and paths included) and throws if invalid.
  machines[name] = { arn: m.arn, definition, machine: new StateMachine(definition) };
}

async function runTask(execution, state, resource, parameters) {
  let res;
  try {
    res = await fetch(`${config.harness}/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ execution, state, resource, parameters }),
    });
  } catch (err) {
    throw new TaskError('Harness.Unreachable', `POST ${config.harness}/task: ${err.cause?.message ?? err.message}`);
  }
  const text = await res.text();
  if (res.status !== 200) {
    throw new TaskError('Harness.Error', `POST /task answered ${res.status}: ${text}`);
  }
  const body = JSON.parse(text);
  if (body.error !== undefined) {
    throw new TaskError(body.error, body.cause);
  }
  return body.output;
}

const running = new Map();

async function start({ machine: machineName, name, input }) {
  const m = machines[machineName];
  if (!m) {
    emit({ execution: name, status: 'FAILED', error: 'Driver.UnknownStateMachine', cause: `no state machine ${machineName}` });
    return;
  }
  const executionArn = m.arn.replace(':stateMachine:', ':execution:') + ':' + name;
  const taskResourceLocalHandlers = {};
  const retryIntervalOverrides = {};
  for (const [state, def] of Object.entries(m.definition.States)) {
    if (def.Type === 'Task') {
      taskResourceLocalHandlers[state] = (parameters) => runTask(executionArn, state, def.Resource, parameters);
    }
    if (def.Retry) {
      retryIntervalOverrides[state] = def.Retry.map(() => config.retryIntervalMs);
    }
  }
  const task = {};
  Object.defineProperty(task, 'Token', {
    enumerable: true,
    get: () => randomBytes(96).toString('base64'),
  });
  const run = m.machine.run(input, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides },
    context: {
      Execution: { Id: executionArn, Name: name },
      StateMachine: { Id: m.arn, Name: machineName },
      Task: task,
    },
  });
  running.set(executionArn, run);
  const events = (async () => {
    for await (const event of run.eventLogs) {
      emit({ execution: executionArn, event });
    }
  })();
  let outcome;
  try {
    outcome = { status: 'SUCCEEDED', output: await run.result };
  } catch (err) {
    const inner = err.cause instanceof Error ? err.cause : err;
    const status = err.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : err.name === 'ExecutionAbortedError' ? 'ABORTED' : 'FAILED';
    outcome = { status, error: inner.name, cause: inner.message };
  }
  await events;
  running.delete(executionArn);
  emit({ execution: executionArn, ...outcome });
}

emit({ ready: true });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    process.stderr.write(`driver: bad command ${line}: ${err.message}\n`);
    return;
  }
  start(cmd).catch((err) => {
    process.stderr.write(`driver: execution ${cmd.name}: ${err.stack ?? err}\n`);
    const arn = machines[cmd.machine]?.arn.replace(':stateMachine:', ':execution:') + ':' + cmd.name;
    emit({ execution: arn, status: 'FAILED', error: 'Driver.Error', cause: String(err) });
  });
});
lines.on('close', () => {
  for (const run of running.values()) run.abort();
  process.exit(0);
});
