from dancegen.cli import main

main()
