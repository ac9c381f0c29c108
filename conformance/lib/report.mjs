// Report collects the suite's checks and the messages it validated, and
// prints them.
import { parseMessage } from '@iot-hub/contracts-kafka';

export class Report {
  constructor(name) {
    this.name = name;
    this.checks = []; // {name, ok, detail}
    this.valid = new Map(); // eventType -> count
    this.invalid = []; // {where, error, raw}
    this.figures = []; // {name, value}
  }

  // figure records a measured value to print in the summary.
  figure(name, value) {
    this.figures.push({ name, value });
    console.log(`${this.name}: ${name}: ${value}`);
  }

  // check records a named check and whether it passed.
  check(name, ok, detail = '') {
    this.checks.push({ name, ok, detail });
    console.log(`${this.name}: ${ok ? 'PASS' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
    return ok;
  }

  // validate parses raw (a message's bytes) with the backend's schemas,
  // counts it and returns the parsed message, or records why it is
  // invalid and returns undefined. where names the topic.
  validate(where, raw) {
    try {
      const msg = parseMessage(raw);
      this.valid.set(msg.eventType, (this.valid.get(msg.eventType) ?? 0) + 1);
      return msg;
    } catch (err) {
      this.invalid.push({ where, error: err.message, raw: raw.toString('utf8').slice(0, 500) });
      console.log(`${this.name}: INVALID on ${where}: ${err.message}\n  ${raw.toString('utf8').slice(0, 500)}`);
      return undefined;
    }
  }

  // failed tells whether a check failed or a message was invalid.
  failed() {
    return this.invalid.length > 0 || this.checks.some((c) => !c.ok);
  }

  // summary is one paragraph: the counts of valid messages by type, the
  // invalid ones and the checks, then the figures, one a line.
  summary() {
    const counts = [...this.valid].map(([t, n]) => `${t}=${n}`).join(' ');
    const failedChecks = this.checks.filter((c) => !c.ok).length;
    return `${this.name}: ${failedChecks ? 'FAIL' : this.invalid.length ? 'FAIL' : 'PASS'}; ` +
      `valid messages: ${counts || 'none'}; invalid: ${this.invalid.length}; ` +
      `checks: ${this.checks.length - failedChecks}/${this.checks.length} passed` +
      this.figures.map((f) => `\n  ${f.name}: ${f.value}`).join('');
  }
}
