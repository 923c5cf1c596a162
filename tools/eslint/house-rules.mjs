// The house rules that no published ESLint rule states exactly (registered as `tscni/…` in eslint.config.mjs).
const CHILD_PROCESS = new Set(['child_process', 'node:child_process']);
// exec/execSync hand their string to /bin/sh; execa's command forms split a string the way a shell would.
const SHELL_FUNCS = new Set(['exec', 'execSync']);
const SHELL_MSG =
  'never a shell string: spawn with an argument array (batch writes: ip -batch, iptables-restore, nft -f)';

const noShell = {
  meta: {
    type: 'problem',
    docs: { description: 'forbid shell: true and child_process.exec/execSync (they run a shell string)' },
    schema: [],
    messages: { shell: SHELL_MSG },
  },
  create(context) {
    // Local names bound to child_process as a whole (import * as cp, import cp, require('node:child_process')).
    const modules = new Set();
    const report = (node) => context.report({ node, messageId: 'shell' });
    const isChildProcessRequire = (node) =>
      node?.type === 'CallExpression' &&
      node.callee.type === 'Identifier' &&
      node.callee.name === 'require' &&
      node.arguments[0]?.type === 'Literal' &&
      CHILD_PROCESS.has(node.arguments[0].value);
    return {
      ImportDeclaration(node) {
        if (!CHILD_PROCESS.has(node.source.value)) return;
        for (const spec of node.specifiers) {
          if (spec.type === 'ImportSpecifier' && SHELL_FUNCS.has(spec.imported.name ?? spec.imported.value))
            report(spec);
          else if (spec.type !== 'ImportSpecifier') modules.add(spec.local.name);
        }
      },
      VariableDeclarator(node) {
        if (!isChildProcessRequire(node.init)) return;
        if (node.id.type === 'Identifier') modules.add(node.id.name);
        else if (node.id.type === 'ObjectPattern')
          for (const prop of node.id.properties)
            if (prop.type === 'Property' && SHELL_FUNCS.has(prop.key.name ?? prop.key.value)) report(prop);
      },
      MemberExpression(node) {
        const name = node.property.type === 'Identifier' ? node.property.name : node.property.value;
        if (!SHELL_FUNCS.has(name)) return;
        if ((node.object.type === 'Identifier' && modules.has(node.object.name)) || isChildProcessRequire(node.object))
          report(node);
      },
      Property(node) {
        const key = node.key.type === 'Identifier' ? node.key.name : node.key.value;
        if (key !== 'shell' || node.parent.type !== 'ObjectExpression') return;
        // shell: true or shell: '/bin/sh' anywhere; in an options object handed to a call, anything but false.
        const literal = node.value.type === 'Literal';
        if (literal && (node.value.value === true || typeof node.value.value === 'string')) report(node);
        else if (!literal && node.parent.parent.type === 'CallExpression') report(node);
      },
    };
  },
};

export default { meta: { name: 'tscni' }, rules: { 'no-shell': noShell } };
