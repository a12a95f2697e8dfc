// Renders API Gateway mapping templates (Velocity, VTL) for the end-to-end harness's REST API
// front door (e2e/restapi_test.go), with velocityjs (pinned in package.json) in the project's
// Node 22. The harness starts it once and keeps it running:
//
//   node_modules/.bin/node e2e/apigateway.mjs
//
// stdin, one JSON object a line: {"id": N, "template": VTL, "body": STRING,
//   "params": {"path": {}, "querystring": {}, "header": {}}, "context": {...},
//   "stageVariables": {}}
// stdout, one JSON object a line: {"ready": true} once, then for each request
//   {"id": N, "output": STRING, "overrides": {"status": N?, "header": {}, "request": {...}}}
//   or {"id": N, "error": STRING}.
//
// What API Gateway gives a template, at the narrowest boundary: $input (body, json, path,
// params), $util (escapeJavaScript, parseJson, urlEncode, urlDecode, base64Encode,
// base64Decode), $context (the values the harness sends, plus requestOverride and
// responseOverride, each settable once), $stageVariables. API Gateway runs Apache Velocity on
// the JVM, so a template's values behave as Java objects: calls on strings (matches,
// contains, replaceAll, ...) get Java's semantics here, not JavaScript's (a JavaScript
// replaceAll takes no regular expression, and strings have no matches or contains), and
// doubles print as Java prints them (1.7E9). A string method this file does not know is an
// error, never a silent JavaScript fallback.
import { createInterface } from 'node:readline';
import { Compile, parse } from 'velocityjs';

// --- Java values ---

// JavaDouble is a JSON number written with a fraction or an exponent: API Gateway's JSON
// reader makes it a java.lang.Double, which prints as Double.toString does. Its source text
// is kept so that $input.json gives the number back as it was sent.
class JavaDouble {
  constructor(value, source) {
    this.value = value;
    this.source = source;
  }
  [Symbol.toPrimitive](hint) {
    return hint === 'number' ? this.value : javaDoubleString(this.value);
  }
  toString() {
    return javaDoubleString(this.value);
  }
  toJSON() {
    return JSON.rawJSON(this.source);
  }
}

// javaDoubleString is Java's Double.toString: plain decimal with at least one fractional
// digit from 10^-3 to 10^7, otherwise computerized scientific notation (1.486772644911E9).
function javaDoubleString(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(x);
    return s.includes('.') ? s : s + '.0';
  }
  const [mantissa, exponent] = x.toExponential().split('e');
  return (mantissa.includes('.') ? mantissa : mantissa + '.0') + 'E' + Number(exponent);
}

// parseJSON reads JSON as API Gateway's reader does: numbers with a fraction or exponent
// become JavaDouble, integers stay numbers.
function parseJSON(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === 'number' && context && /[.eE]/.test(context.source)) {
      return new JavaDouble(value, context.source);
    }
    return value;
  });
}

function toJSON(value) {
  return JSON.stringify(value === undefined ? null : value);
}

// --- Java regular expressions and String methods ---

// javaRegex translates a java.util.regex pattern into a JavaScript RegExp. The two agree on
// the patterns mapping templates use (classes, groups, quantifiers, anchors); constructs
// JavaScript lacks or reads differently are refused, naming the pattern.
function javaRegex(pattern, flags = '') {
  if (typeof pattern !== 'string') throw new Error(`regular expression ${pattern} is not a string`);
  if (/\(\?[a-zA-Z]|\*\+|\+\+|\?\+|\}\+|\(\?>|\\[AZzQEGh]|\\p\{(?:java|Is)/.test(pattern)) {
    throw new Error(`the Java regular expression ${JSON.stringify(pattern)} uses a construct the harness does not translate`);
  }
  return new RegExp(pattern, flags);
}

// javaReplacement turns a Java replacement string ($1, ${name}, \x for a literal x) into a
// JavaScript replacer function.
function javaReplacement(replacement) {
  const parts = [];
  for (let i = 0; i < replacement.length; i++) {
    const c = replacement[i];
    if (c === '\\') {
      if (++i >= replacement.length) throw new Error('character to be escaped is missing (replaceAll)');
      parts.push({ text: replacement[i] });
    } else if (c === '$') {
      if (replacement[i + 1] === '{') {
        const end = replacement.indexOf('}', i);
        if (end < 0) throw new Error("named capturing group is missing trailing '}' (replaceAll)");
        parts.push({ name: replacement.slice(i + 2, end) });
        i = end;
      } else {
        const m = /^\d+/.exec(replacement.slice(i + 1));
        if (!m) throw new Error('Illegal group reference (replaceAll)');
        parts.push({ group: m[0] });
        i += m[0].length;
      }
    } else {
      parts.push({ text: c });
    }
  }
  return (...args) => {
    const hasNamed = typeof args[args.length - 1] === 'object';
    const groups = args.slice(0, hasNamed ? -3 : -2);
    const named = hasNamed ? args[args.length - 1] : {};
    return parts
      .map((p) => {
        if ('text' in p) return p.text;
        if ('name' in p) {
          if (!(p.name in named)) throw new Error(`No group with name {${p.name}} (replaceAll)`);
          return named[p.name] ?? '';
        }
        // Java takes as many digits as form an existing group number.
        let digits = p.group;
        while (digits.length > 1 && Number(digits) >= groups.length) digits = digits.slice(0, -1);
        const n = Number(digits);
        if (n >= groups.length) throw new Error(`No group ${n} (replaceAll)`);
        return (groups[n] ?? '') + p.group.slice(digits.length);
      })
      .join('');
  };
}

function javaString(v) {
  if (v === null || v === undefined) throw new Error('java.lang.NullPointerException: a String method got null');
  return String(v);
}

// javaSplit is String.split(regex): a one-character literal or a regular expression;
// trailing empty strings are removed, and a zero-width match at the start yields no
// leading empty string.
function javaSplit(s, regex, limit = 0) {
  const re = javaRegex(regex, 'g');
  const out = [];
  let last = 0;
  for (const m of s.matchAll(re)) {
    if (limit > 0 && out.length === limit - 1) break;
    if (m[0] === '' && m.index === 0) continue;
    if (m[0] === '' && m.index >= s.length) break;
    out.push(s.slice(last, m.index));
    last = m.index + m[0].length;
  }
  out.push(s.slice(last));
  if (limit === 0) while (out.length > 1 && out[out.length - 1] === '') out.pop();
  if (limit === 0 && out.length === 1 && out[0] === '' && s !== '') return [];
  return out;
}

// The java.lang.String methods templates call, with Java's semantics.
const stringMethods = {
  matches: (s, re) => javaRegex(`^(?:${re})$`).test(s),
  contains: (s, t) => s.includes(javaString(t)),
  replaceAll: (s, re, rep) => s.replace(javaRegex(re, 'g'), javaReplacement(javaString(rep))),
  replaceFirst: (s, re, rep) => s.replace(javaRegex(re), javaReplacement(javaString(rep))),
  // String.replace(CharSequence, CharSequence) replaces every occurrence, literally.
  replace: (s, a, b) => s.split(javaString(a)).join(javaString(b)),
  split: (s, re, limit) => javaSplit(s, re, limit ?? 0),
  length: (s) => s.length,
  isEmpty: (s) => s.length === 0,
  trim: (s) => s.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, ''),
  toLowerCase: (s) => s.toLowerCase(),
  toUpperCase: (s) => s.toUpperCase(),
  startsWith: (s, t, from) => s.startsWith(javaString(t), from ?? 0),
  endsWith: (s, t) => s.endsWith(javaString(t)),
  indexOf: (s, t, from) => s.indexOf(javaString(t), from ?? 0),
  lastIndexOf: (s, t) => s.lastIndexOf(javaString(t)),
  substring: (s, begin, end) => {
    const e = end ?? s.length;
    if (begin < 0 || e > s.length || begin > e) {
      throw new Error(`java.lang.StringIndexOutOfBoundsException: begin ${begin}, end ${e}, length ${s.length}`);
    }
    return s.substring(begin, e);
  },
  charAt: (s, i) => {
    if (i < 0 || i >= s.length) throw new Error(`java.lang.StringIndexOutOfBoundsException: index ${i}, length ${s.length}`);
    return s[i];
  },
  equals: (s, t) => typeof t === 'string' && s === t,
  equalsIgnoreCase: (s, t) => typeof t === 'string' && s.toLowerCase() === t.toLowerCase(),
  concat: (s, t) => s + javaString(t),
  toString: (s) => s,
};

const javaStrings = {
  uid: 'java.lang.String',
  match: ({ context }) => typeof context === 'string',
  resolve: ({ context, property, params }) => {
    const method = stringMethods[property];
    if (!method) {
      throw new Error(`java.lang.String has no method ${property}() in the harness: add it to e2e/apigateway.mjs with Java's semantics`);
    }
    return method(context, ...params);
  },
};

// --- $util ---

// escapeJavaScript is commons-lang StringEscapeUtils.escapeJavaScript, which API Gateway
// documents: ' " \ / and control characters escaped, everything beyond ASCII as \uXXXX.
function escapeJavaScript(s) {
  if (s === null || s === undefined) return '';
  s = String(s);
  let out = '';
  for (const ch of s) {
    for (let i = 0; i < ch.length; i++) {
      const c = ch.charCodeAt(i);
      const hex = c.toString(16).toUpperCase();
      if (c > 0xfff) out += '\\u' + hex;
      else if (c > 0xff) out += '\\u0' + hex;
      else if (c > 0x7f) out += '\\u00' + hex;
      else if (c < 32) {
        const named = { 8: '\\b', 10: '\\n', 9: '\\t', 12: '\\f', 13: '\\r' }[c];
        out += named ?? (c > 0xf ? '\\u00' + hex : '\\u000' + hex);
      } else if (ch === "'" || ch === '"' || ch === '\\' || ch === '/') out += '\\' + ch;
      else out += ch;
    }
  }
  return out;
}

// urlEncode is java.net.URLEncoder.encode(s, UTF-8): letters, digits and .-*_ kept, space
// as +, everything else as %XX of its UTF-8 bytes.
function urlEncode(s) {
  return Array.from(new TextEncoder().encode(String(s)))
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9.\-*_]/.test(c)) return c;
      if (c === ' ') return '+';
      return '%' + b.toString(16).toUpperCase().padStart(2, '0');
    })
    .join('');
}

function urlDecode(s) {
  return decodeURIComponent(String(s).replace(/\+/g, ' '));
}

const util = {
  escapeJavaScript,
  parseJson: (s) => parseJSON(javaString(s)),
  urlEncode,
  urlDecode,
  base64Encode: (s) => Buffer.from(javaString(s), 'utf8').toString('base64'),
  base64Decode: (s) => Buffer.from(javaString(s), 'base64').toString('utf8'),
};

// --- $input ---

// jsonPath evaluates the JSONPath subset mapping templates use: $, .name, ['name'], [n].
function jsonPath(root, path) {
  const p = String(path).trim();
  if (!p.startsWith('$')) throw new Error(`JSONPath ${JSON.stringify(path)} must start with $`);
  let value = root;
  const re = /\.([A-Za-z_$][\w$-]*)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]|\[\s*(\d+)\s*\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < p.length) {
    const start = re.lastIndex;
    const m = re.exec(p);
    if (!m || m.index !== start) {
      throw new Error(`JSONPath ${JSON.stringify(path)}: the harness reads only $, .name, ['name'] and [n]`);
    }
    const key = m[1] ?? m[2] ?? m[3] ?? Number(m[4]);
    if (value === null || typeof value !== 'object' || value instanceof JavaDouble) return undefined;
    value = Array.isArray(value) && typeof key !== 'number' ? undefined : value[key];
    if (value === undefined) return undefined;
  }
  return value;
}

// makeInput is $input: the payload (the request's body, or the integration's answer in a
// response template) and the method request's parameters. An empty payload reads as {}.
function makeInput(body, params) {
  let parsed;
  let parseError;
  const root = () => {
    if (parsed === undefined && parseError === undefined) {
      try {
        parsed = body.trim() === '' ? {} : parseJSON(body);
      } catch (err) {
        parseError = err;
      }
    }
    if (parseError) throw new Error(`$input: the payload is not JSON: ${parseError.message}`);
    return parsed;
  };
  const all = { path: params.path ?? {}, querystring: params.querystring ?? {}, header: params.header ?? {} };
  return {
    body,
    json: (path) => toJSON(jsonPath(root(), path)),
    path: (path) => jsonPath(root(), path),
    params: (name) => {
      if (name === undefined) return all;
      for (const where of ['path', 'querystring', 'header']) {
        if (Object.hasOwn(all[where], name)) return all[where][name];
      }
      return '';
    },
  };
}

// --- $context with its overrides ---

// settableOnce returns a map whose entries may each be set once, recorded in record: API
// Gateway answers 5XX when a template overrides the same parameter twice.
function settableOnce(record, label) {
  return new Proxy(
    {},
    {
      get: (_, key) => record[key],
      set(_, key, value) {
        if (Object.hasOwn(record, key)) {
          throw new Error(`${label}.${String(key)} overridden twice: API Gateway answers 5XX`);
        }
        record[key] = value;
        return true;
      },
    },
  );
}

// makeContext is $context: the harness's values, and the overrides a template may set, which
// it records in overrides.
function makeContext(values, overrides) {
  const context = structuredClone(values ?? {});
  const response = { header: {} };
  const request = { header: {}, querystring: {}, path: {} };
  overrides.response = response;
  overrides.request = request;
  const responseHeader = settableOnce(response.header, '$context.responseOverride.header');
  context.responseOverride = new Proxy(
    {},
    {
      get: (_, key) => (key === 'status' ? response.status : key === 'header' ? responseHeader : undefined),
      set(_, key, value) {
        if (key !== 'status') throw new Error(`$context.responseOverride.${String(key)} cannot be set: set status or header.<name>`);
        if (Object.hasOwn(response, 'status')) throw new Error('$context.responseOverride.status overridden twice: API Gateway answers 5XX');
        response.status = value;
        return true;
      },
    },
  );
  context.requestOverride = {
    header: settableOnce(request.header, '$context.requestOverride.header'),
    querystring: settableOnce(request.querystring, '$context.requestOverride.querystring'),
    path: settableOnce(request.path, '$context.requestOverride.path'),
  };
  return context;
}

// --- rendering ---

const parsedTemplates = new Map();

function render(req) {
  let asts = parsedTemplates.get(req.template);
  if (!asts) {
    asts = parse(req.template);
    parsedTemplates.set(req.template, asts);
  }
  const overrides = {};
  const context = {
    input: makeInput(req.body ?? '', req.params ?? {}),
    util,
    context: makeContext(req.context, overrides),
    stageVariables: req.stageVariables ?? {},
  };
  // As in API Gateway's Velocity, a reference to nothing renders as its own text ($!x as
  // nothing); only a String method the harness lacks is an error (javaStrings).
  const output = new Compile(asts, { customMethodHandlers: [javaStrings] }).render(context);
  const status = overrides.response.status;
  return {
    output,
    overrides: {
      status: status === undefined ? undefined : Number(String(status)),
      header: Object.fromEntries(Object.entries(overrides.response.header).map(([k, v]) => [k, String(v)])),
      request: overrides.request,
    },
  };
}

function main() {
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let req;
    try {
      req = JSON.parse(line);
    } catch (err) {
      process.stderr.write(`apigateway: bad request line ${line.slice(0, 200)}: ${err.message}\n`);
      return;
    }
    let answer;
    try {
      answer = { id: req.id, ...render(req) };
    } catch (err) {
      answer = { id: req.id, error: err.message };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  });
  lines.on('close', () => process.exit(0));
}

main();
