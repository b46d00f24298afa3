from pocctl.cli import main

main()
