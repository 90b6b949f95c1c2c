// Thrown when Ctrl-C ended a run; the command line maps it to exit status 130. A module of its
// own, so that the CLI's entry can tell it apart without loading the training code.
export class RunInterrupted extends Error {
  constructor(readonly what: string) {
    super(`interrupted: ${what}`);
    this.name = 'RunInterrupted';
  }
}
