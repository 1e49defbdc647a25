import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("status", "Show the state of the running client");
