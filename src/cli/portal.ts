import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("portal", "Run the control plane (Phoenix-channel WebSocket API, SQLite)");
