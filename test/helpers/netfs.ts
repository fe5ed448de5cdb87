// The network-mount test bed (hosts as namespaces, each an sshfs client of one exported
// folder) lives beside the bench, which uses it too; tests import it from here.
export * from '../../tools/bench/netfsBed.ts';
