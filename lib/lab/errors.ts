/**
 * The errors of labs that are not about the spec: a name that is taken, a
 * lab that is not there, a node or link it does not have.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";

/** There is no lab of that name. */
export class LabNotFoundError extends NsnetError {
  /** The name asked for. */
  readonly lab: string;

  /** Makes the error for lab `name`. */
  constructor(name: string, options: { hint?: string } = {}) {
    super(`no lab named ${JSON.stringify(name)}`, {
      hint: options.hint ?? "`nsnet lab ls` lists the labs there are",
    });
    this.name = "LabNotFoundError";
    this.lab = name;
  }
}

/** A lab of that name exists already. */
export class LabExistsError extends NsnetError {
  /** The name that is taken. */
  readonly lab: string;

  /** Makes the error for lab `name`. */
  constructor(name: string) {
    super(`a lab named ${JSON.stringify(name)} exists already`, {
      hint:
        `remove it first (\`nsnet lab down ${name}\`), or choose another name`,
    });
    this.name = "LabExistsError";
    this.lab = name;
  }
}

/** The lab has no such node or link. */
export class LabMemberError extends InvalidArgumentError {
  /** Makes the error: `what` is not in lab `lab`; `have` lists what is. */
  constructor(lab: string, what: string, have: string) {
    super(`lab ${lab} has no ${what}`, { hint: `it has ${have}` });
    this.name = "LabMemberError";
  }
}
