import { unavailableCommand } from "./unavailable.ts";

export default unavailableCommand("connect", "Connect this device to the resources your policies allow");
