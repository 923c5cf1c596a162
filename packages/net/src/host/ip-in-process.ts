/** The entry the plugins that use it import: `ip` done in-process over rtnetlink (see ./rtnetlink). */
export { deleteLinksOutOfProcess, useIpInProcess } from './rtnetlink';
