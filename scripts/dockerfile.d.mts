export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}
/** Instructions in order: comments and parser directives dropped, continuations joined. */
export function instructions(text: string): Instruction[];
/** Stages; `from` is an image or the name of an earlier stage. */
export function stages(text: string): Stage[];
/** The images the Dockerfile starts from (FROM lines that do not name an earlier stage). */
export function baseImages(text: string): string[];
/** `KEY=value KEY2="quoted value"` (or the legacy `KEY value`) as an object. */
export function parseEnv(args: string): Record<string, string>;
/** The environment the final stage sets with ENV, its parent stages' included. */
export function imageEnv(text: string): Record<string, string>;
