from scorelab.cli import main

main()
