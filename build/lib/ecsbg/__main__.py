from ecsbg.cli import main

raise SystemExit(main())
