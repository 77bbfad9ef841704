"""Storage emulation: the storage tools a kernel without ocfs2 or device-mapper cannot serve, for trying a pool.

A product mode (``serve --emulate-storage``, ``xe --embedded ...
--emulate-storage``, ``kit --emulate-storage``), never silent: the shim
says at start which tools are emulated and why, writes it to its log and
to the pool's ``other_config`` (``ha status`` shows it).  Only what the
kernel lacks is emulated (``kernel.gaps``): ``mount -t ocfs2`` and its
``umount`` without ocfs2, ``lvcreate``/``lvremove`` without device-mapper,
``melioctl`` without the Melio CLI; ``mkfs.ocfs2``, ``tunefs.ocfs2``,
``blkid``, the other LVM tools and loop devices stay the real ones.

``tools`` holds the emulators (each records its argv and emulates the
effect in a state directory all hosts share, as one shared device);
``pool`` writes a pool's emulator commands (``STATE/emulated-storage/bin``,
first on the PATH its drivers get) and the settings each host's emulators
read, in the host's own ``/etc/sm-clusterstack`` (where a driver that gets
PATH only, as from xapi, finds them).  The shim's own mounts (host
sandboxes) never go through them: ``hostsandbox`` runs the system's tools.
"""
