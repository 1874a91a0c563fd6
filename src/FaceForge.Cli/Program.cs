using FaceForge.Cli;

return CliRunner.Run(CommandTree.Create(), args, Console.Out, Console.Error);
