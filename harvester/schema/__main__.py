from harvester.schema import main

if __name__ == "__main__":
    main()
