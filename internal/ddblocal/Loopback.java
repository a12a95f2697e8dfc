// Loopback runs DynamoDB Local bound to 127.0.0.1 only: the jar has no option
// for the listen address (its Jetty server binds every interface), so this
// builds the same request handler as the jar's ServerRunner behind a Jetty
// connector of our own. ddblocal compiles it once with javac (or, with no javac,
// runs it in Java's single-file source mode). Telemetry is never set up, so
// nothing leaves the machine.
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBRequestHandler;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBServerHandler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class Loopback {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        LocalDynamoDBServerHandler handler = new LocalDynamoDBServerHandler(
                new LocalDynamoDBRequestHandler(0, true, null, true, false), null);
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(new DynamoDBProxyServer(port, handler).setUpHandler(handler));
        server.start();
        System.out.println("listening on 127.0.0.1:" + connector.getLocalPort());
        // The Go test holds our stdin open; end of input means it is gone
        // (even if it crashed before stopping us), so exit rather than leak.
        while (System.in.read() != -1) {
        }
        System.exit(0);
    }
}
