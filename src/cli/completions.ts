import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("completions", "Print shell completion scripts");
