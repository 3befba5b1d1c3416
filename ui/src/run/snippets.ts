/** Python that opens this run with the Metaflow client, whoever's namespace it is in. */
export function clientSnippet(flow: string, run: string): string {
  return `from metaflow import Run, namespace\nnamespace(None)\nrun = Run('${flow}/${run}')`;
}

/** The CLI command that resumes this run (from its failed step onwards). */
export function resumeCommand(run: string, scriptName: string | null): string {
  return `python ${scriptName ?? '<flow_file>.py'} resume --origin-run-id ${run}`;
}
