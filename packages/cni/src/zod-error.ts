/** One zod issue as `field.path: message`, the form every config error takes. */
export function zodIssueText(issue: { path: (string | number)[]; message: string }): string {
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[');
  return `${path || '(root)'}: ${issue.message}`;
}
