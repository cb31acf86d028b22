/** DDL and queries of core's resources: filled in by the module that owns them. */
export const schema = ``
